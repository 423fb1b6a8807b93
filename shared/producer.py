"""The hall's Kafka producer: idempotent with acks=all, and it heals itself.

aiokafka's idempotent producer never resets its producer id: once a batch has expired or failed while Kafka was
away (``KafkaTimeoutError``, ``LeaderNotAvailableError`` roughly 40 s into an outage), the next batches carry a
sequence the broker does not expect, and every send fails with ``OutOfOrderSequenceNumber`` until the process is
restarted (issue 12). Fenced producers (``ProducerFenced``, ``InvalidProducerEpoch``) and ``UnknownProducerId``
wedge it the same way.

:class:`HealingProducer` is the producer under a FastStream broker's ``publish`` (so the telemetry middleware and
every existing call keep working). Every record it sends is watched: when one fails, the producer is recreated
(a new producer id, so new sequences) in the background, retrying until Kafka is back; the callers' own retries
(the outbox: a redelivered record re-publishes the same records with the same event ids) publish what is still
owed. While the last publish failed and none has succeeded since, or while the producer is being recreated,
:meth:`HealingProducer.problem` says so, and ``/health`` answers 503 with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    KafkaError,
    MessageSizeTooLargeError,
    ProducerClosed,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from faststream.kafka.publisher.producer import AioKafkaFastProducerImpl
from faststream.kafka.publisher.state import RealProducer

if TYPE_CHECKING:
    from aiokafka.structs import RecordMetadata
    from fast_depends.library.serializer import SerializerProto
    from faststream._internal.parser import CodecProto
    from faststream.kafka import KafkaBroker
    from faststream.kafka.response import KafkaPublishCommand

log = logging.getLogger("hall.producer")

# Refusals of one record: the producer is fine, the record is not (nothing to heal, and retrying cannot help).
REFUSALS = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError)
# How long a retired producer may take to deliver what it still holds before it is aborted.
RETIRE_S = 5.0
START_TIMEOUT_S = 10.0
# While Kafka is away a new producer is tried at most this far apart: it is back in use within that of Kafka.
RESTART_BACKOFF_CAP_S = 2.0


class PublishTimeout(KafkaError):  # type: ignore[misc]  # aiokafka is untyped
    """Kafka did not take the records within the caller's bound; they may still arrive (same event ids)."""


class ProducerNotReady(KafkaError):  # type: ignore[misc]  # aiokafka is untyped
    """The producer is being recreated and was not ready within the caller's bound."""


class OutRecord(NamedTuple):
    """One record to publish: topic, key and value (bytes), sent as JSON."""

    topic: str
    key: bytes | None
    value: bytes


def producer_factory(bootstrap_servers: str, client_id: str, **options: Any) -> Callable[[], AIOKafkaProducer]:
    """New producers with the hall's settings: idempotent, acks=all, each with a new producer id when started."""

    def make() -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            enable_idempotence=True,
            acks="all",
            **options,
        )

    return make


class HealingProducer(AioKafkaFastProducerImpl):
    """A FastStream broker's producer that recreates its AIOKafkaProducer when a send fails.

    Install it with :func:`install` before the broker starts; the broker's ``connect`` then starts a producer
    from ``factory`` (the broker's own unstarted one is dropped) and its ``disconnect`` stops it within a bound.
    """

    def __init__(self, factory: Callable[[], AIOKafkaProducer], name: str) -> None:
        super().__init__(parser=None, decoder=None)
        self._factory = factory
        self._name = name
        self._current: AIOKafkaProducer | None = None
        self._generation = 0
        self._reset_task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._unreachable: str | None = None  # why the last attempt to start a new producer failed
        self._stopping = False
        self._retiring: set[asyncio.Task[None]] = set()
        # Health: the last failure (monotonic time, reason) and the last success.
        self._last_failure: tuple[float, str] | None = None
        self._last_success = 0.0
        self.resets = 0

    # FastStream's producer protocol -----------------------------------------------------------------------------

    async def connect(
        self,
        producer: AIOKafkaProducer,
        serializer: SerializerProto | None,
        codec: CodecProto | None = None,
    ) -> None:
        await producer.stop()  # the broker's own, never started: ours all come from the factory
        self._stopping = False
        await super().connect(self._factory(), serializer, codec)
        self._current = self._producer.producer
        self._ready.set()

    async def disconnect(self) -> None:
        """Stop within a bound: what Kafka has not taken by then stays owed (offsets are not committed for it)."""
        self._stopping = True
        task, self._reset_task = self._reset_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        current, self._current = self._current, None
        if current is not None:
            await _retire(current, RETIRE_S)
        for retiring in list(self._retiring):
            with contextlib.suppress(asyncio.CancelledError):
                await retiring
        self._ready.clear()
        await super().disconnect()  # the current one is closed already: this only forgets it

    async def publish(self, cmd: KafkaPublishCommand) -> asyncio.Future[RecordMetadata] | RecordMetadata:
        """Every send goes through here (broker.publish): its result is watched, whoever awaits it."""
        generation = self._generation
        try:
            sent = await super().publish(cmd)
        except asyncio.CancelledError:
            raise
        except REFUSALS:
            raise
        except Exception as exc:
            self._failed(generation, exc)
            raise
        if isinstance(sent, asyncio.Future):
            sent.add_done_callback(lambda future: self._settled(generation, future))
        else:
            self._succeeded()
        return sent

    # The hall's API -------------------------------------------------------------------------------------------

    async def send_all(self, broker: KafkaBroker, records: Sequence[OutRecord], within: float | None) -> None:
        """Publish ``records`` in order through ``broker`` and wait until Kafka has every one (acks=all).

        ``within`` bounds the whole call (None: as long as the producer's own timeouts allow). Past it,
        :class:`PublishTimeout` (or :class:`ProducerNotReady` while the producer is recreated) is raised; the
        records may still arrive, so a retry must carry the same event ids.
        """
        loop = asyncio.get_running_loop()
        deadline = None if within is None else loop.time() + within
        await self.wait_ready(None if deadline is None else max(0.0, deadline - loop.time()))
        futures: list[asyncio.Future[RecordMetadata]] = []
        try:
            async with asyncio.timeout_at(deadline):
                for record in records:
                    sent = await broker.publish(
                        record.value,
                        topic=record.topic,
                        key=record.key,
                        headers={"content-type": "application/json"},
                        no_confirm=True,  # enqueued in order now, confirmed together below
                    )
                    futures.append(sent)
        except TimeoutError:
            # Waiting for metadata (Kafka away): recreating proves when it is back, even if nothing else is sent.
            self._failed(self._generation, PublishTimeout(f"Kafka 未在 {within} 秒内接收 (not enqueued in time)"))
            raise PublishTimeout(f"not enqueued within {within} s") from None
        if not futures:
            return
        timeout = None if deadline is None else max(0.0, deadline - loop.time())
        done, pending = await asyncio.wait(futures, timeout=timeout)  # never cancels the sends
        for future in futures:
            failure = future.exception() if future in done else None
            if failure is not None:
                raise failure
        if pending:
            self._note_failure(f"Kafka 未在 {within} 秒内确认 (not acknowledged within {within} s)")
            raise PublishTimeout(f"{len(pending)} of {len(futures)} records not acknowledged within {within} s")

    async def wait_ready(self, within: float | None) -> None:
        """Wait while the producer is being recreated (at most ``within`` seconds).

        While Kafka is known to be away (the last attempt to start a new producer failed) there is nothing to
        wait for: refused at once, so a client hears 503 in milliseconds, not after the whole bound.
        """
        if self._ready.is_set():
            return
        if self._unreachable is not None:
            raise ProducerNotReady(f"{self._name}: Kafka unreachable ({self._unreachable})")
        try:
            await asyncio.wait_for(self._ready.wait(), within)
        except TimeoutError:
            raise ProducerNotReady(f"{self._name}: the producer is being recreated") from None

    def problem(self) -> str | None:
        """Why this service cannot publish now, or None (a health check)."""
        if self._reset_task is not None and not self._reset_task.done():
            reason = self._last_failure[1] if self._last_failure else "?"
            return f"正在重建 Kafka 生产者 (recreating the producer after: {reason})"
        if self._last_failure is not None and self._last_failure[0] > self._last_success:
            return f"最近一次发布失败 (last publish failed: {self._last_failure[1]})"
        if self._current is None and not self._stopping and self._ready.is_set():
            return "生产者未启动 (producer not started)"
        return None

    @property
    def generation(self) -> int:
        """How many times the producer was recreated (0: the first one)."""
        return self._generation

    def reset(self, reason: str) -> None:
        """Recreate the producer in the background (once: a reset under way absorbs further requests)."""
        if self._stopping or (self._reset_task is not None and not self._reset_task.done()):
            return
        self._ready.clear()
        self._reset_task = asyncio.get_running_loop().create_task(self._recreate(reason))

    # Internals ------------------------------------------------------------------------------------------------

    def _settled(self, generation: int, future: asyncio.Future[RecordMetadata]) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if exc is None:
            self._succeeded()
        elif not isinstance(exc, REFUSALS):
            self._failed(generation, exc)

    def _succeeded(self) -> None:
        self._last_success = time.monotonic()

    def _note_failure(self, reason: str) -> None:
        self._last_failure = (time.monotonic(), reason)

    def _failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation or self._stopping:
            return  # a retired producer's records failing: its successor is in place already
        reason = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        self._note_failure(reason)
        log.warning("%s: a send failed (%s); recreating the producer", self._name, reason)
        self.reset(reason)

    async def _recreate(self, reason: str) -> None:
        delay = 0.5
        attempt = 0
        while not self._stopping:
            attempt += 1
            fresh = self._factory()
            try:
                # Starting connects and asks for a new producer id: it fails while Kafka is away.
                await asyncio.wait_for(fresh.start(), START_TIMEOUT_S)
            except asyncio.CancelledError:
                await _retire(fresh, 0.0)
                raise
            except Exception as exc:  # noqa: BLE001 (any failure to start: Kafka is not back yet)
                self._unreachable = type(exc).__name__
                await _retire(fresh, 0.0)
                if attempt == 1 or attempt % 20 == 0:
                    log.warning(
                        "%s: a new producer could not start (%r); retrying (attempt %d)", self._name, exc, attempt
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RESTART_BACKOFF_CAP_S)
                continue
            old, self._current = self._current, fresh
            self._producer = RealProducer(fresh)  # what FastStream's own connect stores
            self._generation += 1
            self.resets += 1
            self._last_failure = None
            self._unreachable = None
            self._ready.set()
            log.warning("%s: producer recreated after %s (reset %d)", self._name, reason, self.resets)
            if old is not None:
                task = asyncio.get_running_loop().create_task(_retire(old, RETIRE_S))
                self._retiring.add(task)
                task.add_done_callback(self._retiring.discard)
            return


async def _retire(producer: AIOKafkaProducer, within: float) -> None:
    """Stop a producer, letting it deliver what it holds for ``within`` seconds; then abort what is left.

    aiokafka's ``stop`` waits for every batch: with Kafka away that is until they expire. Aborting fails the
    batches' futures (``ProducerClosed``); the records are still owed and their publishers retry them.
    """
    if within > 0:
        try:
            await asyncio.wait_for(asyncio.shield(producer.stop()), within)
        except TimeoutError:
            pass
        except Exception as exc:  # noqa: BLE001 (stopping a broken producer may fail in many ways)
            log.debug("stopping a retired producer: %r", exc)
        else:
            return
    # Abort: stop the sender, fail what is still buffered, close the connections.
    sender = producer._sender  # aiokafka has no public abort
    with contextlib.suppress(Exception):
        await sender.close()
    producer._message_accumulator.fail_all(ProducerClosed())
    with contextlib.suppress(Exception):
        await asyncio.wait_for(producer.stop(), 1.0)
    with contextlib.suppress(Exception):
        await producer.client.close()


def install(broker: KafkaBroker, factory: Callable[[], AIOKafkaProducer], name: str) -> HealingProducer:
    """Make a :class:`HealingProducer` the producer under ``broker.publish`` (call it before the broker starts)."""
    producer = HealingProducer(factory, name)
    broker.config.broker_config.producer = producer
    return producer
