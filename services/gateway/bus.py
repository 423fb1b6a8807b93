"""Request-reply over Kafka: publish a command, wait for the owning service's answer.

Every gateway instance reads all partitions of the replies topic (no consumer group) from the end, and keeps
only the replies it is waiting for. A reply that does not come in time leaves the command safely in Kafka:
the caller answers 202 and the command is still carried out. A command Kafka does not take within
``publish_timeout_s`` (Kafka away, the producer being recreated) is answered 503 with Retry-After: the client
retries it with the same Idempotency-Key, which makes it the same command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import NamedTuple

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError
from faststream.kafka import KafkaBroker
from litestar.exceptions import HTTPException, ServiceUnavailableException

from shared import topics
from shared.contracts import Publications
from shared.envelope import Actor, Envelope, encode, wrap
from shared.kafka import producer_of
from shared.producer import OutRecord
from shared.replies import Reply, decode_reply
from shared.settings import HallSettings

log = logging.getLogger("hall.gateway.bus")
# How long a command Kafka took is remembered, with its reply when it comes: a retry within it is not re-sent.
LATE_REPLY_KEEP_S = 120.0
TOO_LARGE = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError)


class CommandTooLarge(HTTPException):
    """A command Kafka will not carry (over its message size): refused, nothing published."""

    status_code = 413


class KafkaUnavailable(ServiceUnavailableException):
    """A command Kafka did not take in time: 503 with Retry-After; nothing may have been carried out yet."""

    def __init__(self, retry_after_s: int, reason: str) -> None:
        super().__init__(
            detail=f"消息服务暂不可用，请求未能提交，请稍后用同一 Idempotency-Key 重试（{reason}）",
            headers={"Retry-After": str(retry_after_s)},
        )


class Taken(NamedTuple):
    at: float  # monotonic
    envelope: Envelope
    reply: asyncio.Future[Reply]


class CommandBus:
    def __init__(self, settings: HallSettings, broker: KafkaBroker, publications: Publications) -> None:
        self.settings = settings
        self.broker = broker
        self.producer = producer_of(broker)
        self.publications = publications
        self._pending: dict[str, asyncio.Future[Reply]] = {}
        self._taken: dict[str, Taken] = {}  # commands Kafka took, oldest first, with their (future) replies
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        topic = self.settings.topic(topics.GATEWAY_REPLIES)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap_servers, enable_auto_commit=False)
        await consumer.start()
        if topic not in await consumer.topics():
            await consumer.stop()
            raise RuntimeError(f"topic {topic} does not exist: run the topic setup first (./hall up)")
        spec = next(t for t in topics.ALL if t.name == topics.GATEWAY_REPLIES)
        assigned = [TopicPartition(topic, p) for p in range(spec.partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_end(*assigned)
        for tp in assigned:  # resolve the end offsets now, so no reply sent after start is missed
            await consumer.position(tp)
        self._consumer = consumer
        self._task = asyncio.create_task(self._listen(consumer))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    @property
    def listening(self) -> bool:
        """True while replies are being read; the gateway is unhealthy otherwise."""
        return self._task is not None and not self._task.done()

    async def _listen(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            try:
                async for record in consumer:
                    self._resolve(record.value or b"", record.offset)
            except KafkaError:
                log.exception("reading replies failed; reading on in 1 s")
                await asyncio.sleep(1.0)

    def _resolve(self, value: bytes, offset: int) -> None:
        try:
            answer = decode_reply(value)
        except msgspec.MsgspecError:
            log.warning("undecodable reply at offset %s", offset)
            return
        waiter = self._pending.pop(answer.correlation_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    async def send(
        self,
        topic: str,
        command: msgspec.Struct,
        *,
        case_id: str,
        actor: Actor,
        event_id: str | None = None,
    ) -> tuple[Envelope, Reply | None]:
        """Publish ``command`` (acks=all) and wait for its reply; ``None`` when it did not come in time.

        A retry of a command Kafka took in the last ``LATE_REPLY_KEEP_S`` (the same ``event_id``: the same
        Idempotency-Key) is not published again: it waits for, or gets at once, the first one's reply. A retry
        storm after an outage then adds no work to the services that are catching up.
        """
        self.publications.check(self.settings.topic(topic), command)
        self._forget_old()
        if event_id is not None and (taken := self._taken.get(event_id)) is not None:
            return taken.envelope, await self._reply(taken.reply)
        envelope = wrap(command, case_id=case_id, actor=actor, event_id=event_id)
        reply: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[envelope.event_id] = reply  # listening before publishing: no reply is missed
        payload = encode(envelope)
        record = OutRecord(self.settings.topic(topic), case_id.encode(), payload)
        try:
            await self.producer.send_all(self.broker, [record], within=self.settings.publish_timeout_s)
        except TOO_LARGE as exc:
            self._pending.pop(envelope.event_id, None)
            raise CommandTooLarge(
                detail=f"请求内容过大，无法受理（{len(payload)} 字节）：请精简文字或分次提交"
            ) from exc
        except KafkaError as exc:
            # Not taken within the bound (Kafka away, the producer being recreated): 503, never a 500 or a hang.
            self._pending.pop(envelope.event_id, None)
            log.warning("command %s not published: %r", envelope.event_id, exc)
            raise KafkaUnavailable(self.settings.retry_after_s, type(exc).__name__) from exc
        except BaseException:
            self._pending.pop(envelope.event_id, None)
            raise
        # Kafka has it: the reply timer starts now; a late reply is 202, the command is carried out.
        self._taken[envelope.event_id] = Taken(time.monotonic(), envelope, reply)
        return envelope, await self._reply(reply)

    async def _reply(self, reply: asyncio.Future[Reply]) -> Reply | None:
        try:
            return await asyncio.wait_for(asyncio.shield(reply), self.settings.reply_timeout_s)
        except TimeoutError:
            return None

    def _forget_old(self) -> None:
        cutoff = time.monotonic() - LATE_REPLY_KEEP_S
        while self._taken:
            event_id, taken = next(iter(self._taken.items()))
            if taken.at > cutoff:
                return
            del self._taken[event_id]
            self._pending.pop(event_id, None)
