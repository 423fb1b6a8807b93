"""The one Kafka wiring of the hall: brokers, topics, and the at-least-once consume path.

Producers are idempotent with acks=all. Consumers commit only offsets of records whose effects are done
(:mod:`shared.offsets`; an error rewinds to the record). Every handler runs once per event id
(:mod:`shared.outbox`), and a record that cannot be handled goes to the dead-letter topic with its reason
while the consumer carries on.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

import msgspec
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider
from redis import exceptions as redis_errors
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry as RedisRetry
from redis.backoff import EqualJitterBackoff

from shared import topics
from shared.contracts import Publications
from shared.deadletter import dead_letter_for
from shared.envelope import Envelope, decode
from shared.offsets import OffsetBook
from shared.outbox import Outgoing, Txn, run_once
from shared.producer import HealingProducer, OutRecord, producer_factory
from shared.producer import install as install_producer
from shared.secrets import require_secret
from shared.settings import HallSettings

log = logging.getLogger("hall.kafka")

P = TypeVar("P")
MAX_ATTEMPTS = 3
# How long a service waits for Kafka to take what a record publishes before it retries the record.
PUBLISH_WITHIN_S = 30.0
# Connections to Redis per process (measured: README "When Kafka or Redis is down").
REDIS_POOL_SIZE = 256


class NotYet(Exception):
    """The record depends on another one not handled yet (another topic): retry it later, never drop it."""


TRANSIENT = (redis_errors.ConnectionError, redis_errors.TimeoutError, KafkaError, OSError, NotYet)


class Route(msgspec.Struct, Generic[P], frozen=True):
    """Which payload type an event tag decodes to, and the handler that reacts to it."""

    payload: type[P]
    handler: Callable[[Envelope, P, Txn], Awaitable[None]]


HandlerTable = Mapping[str, Route[Any]]
HealthCheck = Callable[[], str | None]
"""A health check: a problem in zh-CN/English words, or None when all is well."""


def make_broker(settings: HallSettings, service: str, tracer_provider: TracerProvider) -> KafkaBroker:
    """The service's broker; its producer is a :class:`shared.producer.HealingProducer` (``producer_of``)."""
    client_id = f"{settings.namespace}.{service}"
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        allow_auto_create_topics=False,
        middlewares=(KafkaTelemetryMiddleware(tracer_provider=tracer_provider),),
        logger=logging.getLogger(f"hall.{service}"),
        log_level=logging.DEBUG,
    )
    # Idempotent with acks=all, recreated (a new producer id) when a send fails: no restart after an outage.
    install_producer(broker, producer_factory(settings.kafka_bootstrap_servers, client_id), client_id)
    return broker


def producer_of(broker: KafkaBroker) -> HealingProducer:
    """The healing producer :func:`make_broker` installed under ``broker``."""
    producer = broker.config.broker_config.producer
    if not isinstance(producer, HealingProducer):
        raise TypeError(f"{broker!r} was not made by make_broker")
    return producer


def redis_client(settings: HallSettings, max_connections: int) -> Redis:
    """A Redis client on a blocking pool of ``max_connections`` that waits out a short Redis outage.

    A refused connection, a timeout or ``BusyLoadingError`` (Redis loading its AOF after a restart) is retried
    with jittered backoff for about ``settings.redis_retry_s``; past that the error is raised (the gateway
    answers 503 with Retry-After, a service retries the record). A full pool makes callers wait for a
    connection (up to 30 s) instead of failing with "Too many connections".
    """
    cap = 0.5
    retries = max(1, math.ceil(settings.redis_retry_s / (0.75 * cap)))  # EqualJitter waits 3/4 of cap on average
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=max_connections,
        timeout=30,
        retry=RedisRetry(EqualJitterBackoff(cap=cap, base=0.05), retries),
        retry_on_error=[redis_errors.BusyLoadingError, redis_errors.ConnectionError, redis_errors.TimeoutError],
        socket_connect_timeout=2.0,
    )
    return Redis(connection_pool=pool)


class ServiceRuntime:
    """One service's broker, Redis client and consume path; Redis connects on start, not on import."""

    def __init__(self, settings: HallSettings, service: str, tracer_provider: TracerProvider) -> None:
        self.settings = settings
        self.service = service
        self.tracer_provider = tracer_provider
        self.broker = make_broker(settings, service, tracer_provider)
        self.producer = producer_of(self.broker)
        self._redis: Redis | None = None
        self._attempts: dict[tuple[str, int, int], int] = {}
        self._books: list[OffsetBook] = []
        self.publications = Publications(settings, service)
        self.subscriptions: list[tuple[list[str], tuple[HandlerTable, ...]]] = []
        self._health_checks: dict[str, HealthCheck] = {"kafka-producer": self.producer.problem}

    def add_health_check(self, name: str, check: Callable[[], str | None]) -> None:
        """Register a check for ``/health``: each non-None string it returns is a problem (503 with the reason).

        Checks are called on every health request, so they must be quick and must not block.
        """
        self._health_checks[name] = check

    def health_problems(self) -> list[str]:
        """The problems every registered check reports now, each prefixed with the check's name."""
        problems: list[str] = []
        for name, check in self._health_checks.items():
            try:
                problem = check()
            except Exception as exc:  # noqa: BLE001 (a failing check is itself a problem to report)
                problem = f"check failed: {exc!r}"
            if problem is not None:
                problems.append(f"{name}: {problem}")
        return problems

    async def redis_problem(self) -> str | None:
        """None when Redis answers a PING within 2 s, else the reason."""
        try:
            await asyncio.wait_for(self.redis.ping(), 2.0)
        except RuntimeError:
            return "redis: not connected"
        except (redis_errors.RedisError, OSError, TimeoutError) as exc:
            return f"redis: unreachable ({type(exc).__name__})"
        return None

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            raise RuntimeError(f"{self.service}: Redis is not connected before start")
        return self._redis

    async def start(self) -> None:
        require_secret(self.settings)  # no service starts with a missing, short or known-weak HALL_SECRET
        # A blocking pool: a burst of concurrent requests waits for a connection instead of failing.
        self._redis = redis_client(self.settings, REDIS_POOL_SIZE)
        await self._redis.ping()
        for book in self._books:
            book.start()

    async def stop(self) -> None:
        """Commit what is done and disconnect Redis; call it before the broker stops."""
        for book in self._books:
            await book.stop()
        if self._redis is not None:
            await self._redis.aclose(close_connection_pool=True)
            self._redis = None

    def subscribe(self, inputs: list[str], *tables: HandlerTable) -> None:
        """Consume the ``inputs`` topics with one consumer in this service's group; dispatch by ``tables``.

        Several tables may react to the same event: their handlers run in one transaction, once per event.
        """
        self.subscriptions.append((inputs, tables))
        book = OffsetBook()
        self._books.append(book)
        subscriber = self.broker.subscriber(
            *(self.settings.topic(topic) for topic in inputs),
            group_id=f"{self.settings.namespace}.{self.service}",
            # Offsets are committed by the book, only for records whose effects are done.
            ack_policy=AckPolicy.MANUAL,
            listener=book.listener(),
            auto_offset_reset="earliest",
            title=f"{self.service}:{'+'.join(inputs)}",
        )

        @subscriber
        async def consume(message: KafkaMessage) -> None:
            record: ConsumerRecord[Any, Any] = message.raw_message
            try:
                await self.dispatch(record, tables)
            except NotYet:
                await asyncio.sleep(0.1)  # a record from another topic comes first; this one comes again
                await message.nack()
                return
            except Exception:
                await message.nack()  # rewind to this record: it comes again
                raise
            book.done(message.consumer, record)

    async def dispatch(self, record: ConsumerRecord[Any, Any], tables: tuple[HandlerTable, ...]) -> None:
        """Handle one record: its effects, a dead letter, or nothing for an event this service ignores."""
        where = (record.topic, record.partition, record.offset)
        try:
            envelope = decode(record.value or b"")
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            await self.dead_letter(record, f"信封无法解析 (malformed envelope): {exc}")
            return
        routes = [table[envelope.type] for table in tables if envelope.type in table]
        if not routes:
            return  # an event this service does not react to
        try:
            payloads = [msgspec.json.decode(envelope.payload, type=route.payload) for route in routes]
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            await self.dead_letter(record, f"{envelope.type} 内容无效 (invalid payload): {exc}")
            return
        marker = self.settings.key(self.service, "done", envelope.event_id)

        async def handle(txn: Txn) -> None:
            for route, payload in zip(routes, payloads, strict=True):
                await route.handler(envelope, payload, txn)

        try:
            outgoing = await run_once(self.redis, marker, envelope, handle, self.publications)
            await self.publish_all(outgoing)
        except NotYet:
            raise
        except TRANSIENT:
            log.warning("%s: transient failure at %s, will retry", self.service, where, exc_info=True)
            await asyncio.sleep(1.0)
            raise
        except Exception as exc:
            attempts = self._attempts.get(where, 0) + 1
            if attempts < MAX_ATTEMPTS:
                self._attempts[where] = attempts
                log.exception("%s: handler failed at %s (attempt %d)", self.service, where, attempts)
                raise
            self._attempts.pop(where, None)
            await self.dead_letter(record, f"处理失败 {MAX_ATTEMPTS} 次 (handler failed): {exc!r}")
            return
        self._attempts.pop(where, None)

    async def publish_all(self, outgoing: list[Outgoing]) -> None:
        """Publish in order and wait until the broker has every record (acks=all), at most PUBLISH_WITHIN_S.

        A failure (Kafka away, a wedged producer being recreated) raises a KafkaError: the caller retries, and
        the outbox re-publishes the same records (same event ids).
        """
        records = [OutRecord(record.topic, record.key.encode(), record.value) for record in outgoing]
        await self.producer.send_all(self.broker, records, within=PUBLISH_WITHIN_S)

    async def dead_letter(self, record: ConsumerRecord[Any, Any], reason: str) -> None:
        log.error(
            "%s: dead-lettering %s/%d@%d: %s", self.service, record.topic, record.partition, record.offset, reason
        )
        letter = dead_letter_for(self.service, record, reason)
        key = letter.key.encode() if letter.key else None
        letter_topic = self.settings.topic(topics.DEAD_LETTERS)
        await self.producer.send_all(
            self.broker, [OutRecord(letter_topic, key, msgspec.json.encode(letter))], within=PUBLISH_WITHIN_S
        )
