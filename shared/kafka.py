"""The one Kafka wiring of the hall: brokers, topics, and the at-least-once consume path.

Producers are idempotent with acks=all. Consumers take records in batches and handle them in lanes by key
(:mod:`shared.lanes`: one key strictly in order, different keys at once; a record that must wait parks its key,
never the partition) and commit only the finished prefix of each partition (:mod:`shared.offsets`). Every
handler runs once per event id (:mod:`shared.outbox`), and a record that cannot be handled goes to the
dead-letter topic with its reason while the consumer carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from itertools import chain
from typing import Any, Generic, TypeVar

import msgspec
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    CorruptRecordException,
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
    UnsupportedVersionError,
)
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.message import StreamMessage
from opentelemetry.sdk.trace import TracerProvider
from redis import exceptions as redis_errors
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry as RedisRetry
from redis.backoff import EqualJitterBackoff
from redis.driver_info import DriverInfo
from redis.utils import get_lib_version

from shared import metrics, telemetry, topics
from shared.clock import SYSTEM_CLOCK
from shared.contracts import Publications
from shared.deadletter import dead_letter_for
from shared.envelope import Envelope, decode
from shared.instances import Registration
from shared.lanes import Lanes, Park, Progress
from shared.logs import bind_case
from shared.offsets import OffsetBook
from shared.outbox import Outgoing, Txn, run_once
from shared.producer import HealingProducer, OutRecord, producer_factory
from shared.producer import install as install_producer
from shared.retry import Backoff, Retries, alert_after_s
from shared.secrets import require_secret
from shared.settings import HallSettings
from shared.watch_built import BuiltWatch, exit_to_restart

log = logging.getLogger("hall.kafka")

P = TypeVar("P")
MAX_ATTEMPTS = 3
# How long a service waits for Kafka to take what a record publishes before it retries the record.
PUBLISH_WITHIN_S = 30.0
# Connections to Redis per process: ``HALL_REDIS_POOL_SIZE`` (shared/settings.py; README "When Kafka or Redis is
# down").


class NotYet(Exception):
    """The record depends on another one not handled yet (another topic): retry it later, never drop it."""


TRANSIENT = (redis_errors.ConnectionError, redis_errors.TimeoutError, KafkaError, OSError, NotYet)
# Kafka errors that no retry cures: the record goes to the dead-letter topic after MAX_ATTEMPTS like any bug.
BROKEN = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
    TopicAuthorizationFailedError,
    ClusterAuthorizationFailedError,
    CorruptRecordException,
    UnsupportedVersionError,
)
# A record waiting for another (NotYet) parks its key and is tried again soon (sooner when other records were
# handled): what it waits for is usually another record of the same service.
NOT_YET_BACKOFF = Backoff(first_s=0.05, cap_s=1.0)
# A record that failed for a reason no retry is sure to cure is tried again after this (MAX_ATTEMPTS in all).
FAILED_PAUSE_S = 0.1
# Shutdown (SIGTERM) ends within 10 s: records being handled get DRAIN_S to finish, offsets COMMIT_ON_STOP_S.
DRAIN_S = 5.0
# A revoked partition's record being handled gets this long to finish before the partition is given away.
REVOKE_DRAIN_S = 3.0
# A fetch waits this long for records (and returns as soon as some arrive).
POLL_MS = 500
COMMIT_ON_STOP_S = 2.0


async def stuck_records(redis: Redis, settings: HallSettings) -> list[StuckRecord]:
    """Every record some service reports as stuck now (for an operators' page), longest failing first."""
    raw = await redis.hgetall(settings.key("ops", "stuck"))
    found = [msgspec.json.decode(value, type=StuckRecord) for value in raw.values()]
    return sorted(found, key=lambda stuck: -stuck.failing_for_s)


def describe(exc: BaseException) -> str:
    """``Type: message`` (redis-py's repr leaves the message out)."""
    return f"{type(exc).__name__}: {exc}"


def is_transient(exc: BaseException) -> bool:
    """Redis or Kafka unreachable, a timeout, a record not yet ready: retried until it works, never dropped."""
    return isinstance(exc, TRANSIENT) and not isinstance(exc, BROKEN)


class StuckRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A record that kept failing for a transient reason longer than the bound: the operators' alert.

    Kept in the Redis hash ``<ns>:ops:stuck`` (field ``<service> <topic>/<partition>@<offset>``) while it keeps
    failing, removed when it finally goes through; the log has the same, once, at ERROR.
    """

    service: str
    topic: str
    partition: int
    offset: int
    reason: str
    failing_for_s: float
    attempts: int
    reported_at: str


class Route(msgspec.Struct, Generic[P], frozen=True):
    """Which payload type an event tag decodes to, and the handler that reacts to it."""

    payload: type[P]
    handler: Callable[[Envelope, P, Txn], Awaitable[None]]


HandlerTable = Mapping[str, Route[Any]]


def payloads_of(envelope: Envelope, routes: list[Route[Any]]) -> list[Any]:
    """Each route's payload, decoded once per payload class (the views are frozen: routes sharing one share it)."""
    by_class: dict[type[Any], Any] = {}
    out = []
    for route in routes:
        payload = by_class.get(route.payload)
        if payload is None:
            payload = by_class[route.payload] = msgspec.json.decode(envelope.payload, type=route.payload)
        out.append(payload)
    return out


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
        # No dependency injection: the one handler takes a batch's records as they came (``_records``); FastStream's
        # would resolve a context argument per batch in a worker thread.
        apply_types=False,
        logger=logging.getLogger(f"hall.{service}"),
        log_level=logging.DEBUG,
    )
    # Idempotent with acks=all, recreated (a new producer id) when a send fails: no restart after an outage.
    factory = producer_factory(
        settings.kafka_bootstrap_servers,
        client_id,
        linger_ms=settings.producer_linger_ms,
        max_batch_size=settings.producer_batch_bytes,
    )
    install_producer(broker, factory, client_id)
    return broker


def producer_of(broker: KafkaBroker) -> HealingProducer:
    """The healing producer :func:`make_broker` installed under ``broker``."""
    producer = broker.config.broker_config.producer
    if not isinstance(producer, HealingProducer):
        raise TypeError(f"{broker!r} was not made by make_broker")
    return producer


_DRIVER = DriverInfo(lib_version=get_lib_version())


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
        # What CLIENT SETINFO tells Redis, looked up once: redis-py otherwise reads the package metadata from disk
        # for every new connection (a burst of requests opening connections spent 5 % of the gateway on it).
        driver_info=_DRIVER,
    )
    return Redis(connection_pool=pool)


async def _records(message: StreamMessage[Any]) -> Any:
    """A batch as its records: the consume path decodes each record's bytes itself (:func:`shared.envelope.decode`,
    in its lane), so FastStream need not build a message object and JSON-decode every record first."""
    return message.raw_message


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
        self.lanes: list[Lanes] = []
        self.progress = Progress()
        self.tracer = tracer_provider.get_tracer("hall.lanes")
        self.publications = Publications(settings, service)
        self.subscriptions: list[tuple[list[str], tuple[HandlerTable, ...]]] = []
        self.patient_topics: set[str] = set()  # read by patient consumers (``subscribe``)
        self._health_checks: dict[str, HealthCheck] = {"kafka-producer": self.producer.problem}
        alert_s = alert_after_s()
        self.retries: Retries[tuple[str, int, int]] = Retries(alert_after_s=alert_s)
        self.waits: Retries[tuple[str, int, int]] = Retries(NOT_YET_BACKOFF, alert_after_s=alert_s)
        self.stuck_key = settings.key("ops", "stuck")
        self._unrecorded: dict[tuple[str, int, int], StuckRecord] = {}
        self._stopping = asyncio.Event()
        # Records being handled: a future each, done when the handler returns, and the task handling it.
        self._in_flight: dict[asyncio.Future[None], asyncio.Task[Any] | None] = {}
        self._traced: str | None = None  # the failure last logged with its traceback, until something succeeds
        # Redis wiped under the running service: nothing more is handled (shared/watch_built.py).
        self.built_watch = BuiltWatch(service, settings.key(service, "built"), lambda: self.redis)
        self.built_watch.before_exit = self.drain
        self.add_health_check("built", self.built_watch.problem)
        # Read with every record's marker (shared.outbox.run_once): Redis wiped, writing would hand out state anew.
        self._built = (self.built_watch.key, self._require_built)
        # The instance registry the operations page reads (shared/instances.py), refreshed while it runs.
        self.registration = Registration(settings, service, lambda: self.redis)
        # Told of every event whose effects were just committed (the gateway wakes the answers waiting for it).
        self.on_handled: list[Callable[[Envelope, list[Any]], None]] = []

    def _require_built(self, present: bool) -> None:
        if not self.built_watch.seen(present):
            raise NotYet(f"{self.service}: Redis wiped, waiting for the restart that rebuilds it from Kafka")

    def consumers(self) -> list[AIOKafkaConsumer]:
        """The running consumers (for the consumer lag at ``/metrics``)."""
        return [consumer for book in self._books if (consumer := book.consumer) is not None]

    def _consumer_broken(self, why: str) -> None:
        """A consumer no rejoin can mend: a process of its own drains and exits to be restarted (its supervisor
        starts it again on :data:`EXIT_REBUILD`); an in-process runtime (a test's) reports it in ``/health``."""
        if self.built_watch.exit_on_missing:
            exit_to_restart(self.service, self.drain, why=f"a consumer beyond repair: {why}")

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
        self._redis = redis_client(self.settings, self.settings.redis_pool_size)
        await self._redis.ping()
        for book in self._books:
            book.start()
        self.built_watch.start()
        self.registration.start()

    async def stop(self) -> None:
        """Commit what is done and disconnect Redis; call it before the broker stops."""
        await self.registration.stop()
        await self.built_watch.stop()
        for book in self._books:
            await book.stop()
        if self._redis is not None:
            await self._redis.aclose(close_connection_pool=True)
            self._redis = None

    def subscribe(self, inputs: list[str], *tables: HandlerTable, patient: bool = False) -> None:
        """Consume the ``inputs`` topics with one consumer in this service's group; dispatch by ``tables``.

        Several tables may react to the same event: their handlers run in one transaction, once per event.
        Records come in batches and are handled in lanes by partition and key (:mod:`shared.lanes`).
        ``patient``: the tables react to few of these topics' records, none in a hurry; the consumer fetches a few
        times a second (``HALL_PATIENT_FETCH_WAIT_MS``), not once for every record the topics get.
        """
        self.subscriptions.append((inputs, tables))
        if patient:
            self.patient_topics.update(inputs)
        settings = self.settings
        book = OffsetBook()
        self._books.append(book)
        name = f"{self.service}:{'+'.join(inputs)}"
        subscriber = self.broker.subscriber(
            *(settings.topic(topic) for topic in inputs),
            group_id=f"{settings.namespace}.{self.service}",
            # Offsets are committed by the book, only for the finished prefix of each partition.
            ack_policy=AckPolicy.MANUAL,
            listener=book.listener(),
            auto_offset_reset="earliest",
            title=name,
            batch=True,
            decoder=_records,
            max_records=settings.consume_batch_max,
            fetch_max_wait_ms=settings.patient_fetch_wait_ms if patient else settings.fetch_max_wait_ms,
            fetch_min_bytes=settings.patient_fetch_min_bytes if patient else settings.fetch_min_bytes,
            fetch_max_bytes=settings.fetch_max_bytes,
            max_partition_fetch_bytes=settings.fetch_partition_bytes,
            # Membership: a heartbeat every 1 s, out of the group after 10 s without one; a consumer that does not
            # poll for 60 s leaves and rejoins when it polls again (the fetch loop never waits on a handler).
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
            max_poll_interval_ms=60_000,
        )

        async def handle(record: ConsumerRecord[Any, Any]) -> Park | None:
            handled = asyncio.get_running_loop().create_future()
            self._in_flight[handled] = asyncio.current_task()
            try:
                with telemetry.handler_span(self.tracer, self.service, record):  # case, event and outcome on it
                    park = await self.try_record(record, tables)
                    if park is not None:
                        telemetry.note_outcome(telemetry.PARKED)
                    return park
            finally:
                del self._in_flight[handled]
                handled.set_result(None)

        lanes = Lanes(
            name,
            handle,
            book,
            concurrency=settings.lane_concurrency,
            max_held=settings.max_held_records,
            progress=self.progress,
            stopping=self._stopping,
            drain_s=REVOKE_DRAIN_S,
        )
        self.lanes.append(lanes)

        async def revoke(partitions: set[TopicPartition]) -> None:
            await lanes.revoke(partitions)
            for retries in (self.retries, self.waits):
                retries.forget(lambda key: TopicPartition(key[0], key[1]) in partitions)

        async def get_msg(consumer: AIOKafkaConsumer) -> tuple[ConsumerRecord[Any, Any], ...]:
            """A batch as soon as records arrive (FastStream's own sleeps as long again after an empty fetch: a
            record arriving meanwhile waited up to 0.2 s, on every hop of a case)."""
            started = time.monotonic()
            batches = await consumer.getmany(timeout_ms=POLL_MS, max_records=settings.consume_batch_max)
            if not batches and time.monotonic() - started < 0.01:
                await asyncio.sleep(0.01)  # never a busy loop (no assignment yet, a rebalance)
            return tuple(chain.from_iterable(batches.values()))

        subscriber.get_msg = get_msg  # type: ignore[method-assign]
        book.on_revoke = revoke
        book.on_assign = lanes.assigned
        # Finished records whose offsets stop being committed (the group lost, the broker gone), or a heartbeat
        # that stopped, make the service unhealthy until commits move again; the book has the consumer rejoin.
        book.consumer_source = lambda: subscriber.consumer
        book.on_broken = self._consumer_broken
        self.add_health_check(f"consumer {'+'.join(inputs)}", book.problem)
        self.add_health_check(f"lanes {'+'.join(inputs)}", lanes.problem)

        @subscriber
        async def consume(records: tuple[ConsumerRecord[Any, Any], ...]) -> None:
            consumer = subscriber.consumer
            if consumer is not None:
                lanes.take(consumer, records)

    async def attempt(self, record: ConsumerRecord[Any, Any], tables: tuple[HandlerTable, ...]) -> bool:
        """Dispatch one record; False when it must come again, after the pause :meth:`try_record` asks for
        (shutdown cuts it short)."""
        park = await self.try_record(record, tables)
        if park is None:
            return True
        await self._pause(park.delay_s)
        return False

    async def try_record(self, record: ConsumerRecord[Any, Any], tables: tuple[HandlerTable, ...]) -> Park | None:
        """Dispatch one record: None when it is done (handled, ignored or dead-lettered), else how long its lane
        parks before it is tried again.

        A transient failure (Redis or Kafka unreachable, a record not yet ready) is retried with backoff and
        jitter, for ever: logged once with its traceback, then one line per retry; past the bound
        (``HALL_RETRY_ALERT_S``) it is reported once at ERROR and in ``<ns>:ops:stuck``. Anything else was
        logged by :meth:`dispatch`, which dead-letters it after ``MAX_ATTEMPTS``.
        """
        where = (record.topic, record.partition, record.offset)
        try:
            await self.dispatch(record, tables)
        except Exception as exc:  # every failure is retried, or was dead-lettered by dispatch
            metrics.error(self.service, exc)
            telemetry.note_failure(exc, waiting=isinstance(exc, NotYet))
            if not is_transient(exc):
                return Park(FAILED_PAUSE_S)
            waits = isinstance(exc, NotYet)
            retries = self.waits if waits else self.retries
            failure = retries.failed(where)
            place = f"{record.topic}/{record.partition}@{record.offset}"
            if waits:
                log.debug("%s: %s waits (attempt %d): %s", self.service, place, failure.attempt, exc)
            elif failure.first and self._traced != type(exc).__name__:
                # One traceback per kind of failure until something goes through again (an outage fails every
                # partition's record the same way).
                self._traced = type(exc).__name__
                log.warning("%s: transient failure at %s, will retry", self.service, place, exc_info=exc)
            else:
                log.warning(
                    "%s: transient failure at %s (attempt %d, failing for %.0f s), retry in %.1f s: %s",
                    self.service,
                    place,
                    failure.attempt,
                    failure.failing_for_s,
                    failure.delay_s,
                    describe(exc),
                )
            if failure.report:
                self._report_stuck(record, exc, failure.attempt, failure.failing_for_s)
            await self._record_stuck()
            return Park(failure.delay_s, waits=waits, attempt=failure.attempt)
        for retries in (self.retries, self.waits):
            if (was := retries.succeeded(where)) is not None:
                self._traced = None
                if was.reported:
                    await self._clear_stuck(where, was.failures)
        return None

    def _report_stuck(self, record: ConsumerRecord[Any, Any], exc: BaseException, attempt: int, for_s: float) -> None:
        stuck = StuckRecord(
            service=self.service,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=describe(exc)[:500],
            failing_for_s=round(for_s, 1),
            attempts=attempt,
            reported_at=SYSTEM_CLOCK.now().isoformat(),
        )
        log.error(
            "%s: %s/%d@%d has failed for a transient reason for %.1f s (%d attempts), still retrying; "
            "operators' alert in %s: %s",
            self.service,
            record.topic,
            record.partition,
            record.offset,
            for_s,
            attempt,
            self.stuck_key,
            describe(exc),
        )
        self._unrecorded[(record.topic, record.partition, record.offset)] = stuck

    @staticmethod
    def _stuck_field(service: str, where: tuple[str, int, int]) -> str:
        return f"{service} {where[0]}/{where[1]}@{where[2]}"

    async def _record_stuck(self) -> None:
        """Writes the alerts not yet in Redis (Redis may be what is down: tried again at the next failure)."""
        for where, stuck in list(self._unrecorded.items()):
            try:
                await self.redis.hset(
                    self.stuck_key, self._stuck_field(self.service, where), msgspec.json.encode(stuck)
                )
            except (redis_errors.RedisError, OSError, RuntimeError):
                return
            del self._unrecorded[where]

    async def _clear_stuck(self, where: tuple[str, int, int], attempts: int) -> None:
        log.warning("%s: %s/%d@%d went through after %d failed attempts", self.service, *where, attempts)
        self._unrecorded.pop(where, None)
        with contextlib.suppress(redis_errors.RedisError, OSError, RuntimeError):
            await self.redis.hdel(self.stuck_key, self._stuck_field(self.service, where))

    async def _pause(self, seconds: float) -> None:
        """Sleeps, unless shutdown begins."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def drain(self, drain_s: float = DRAIN_S, commit_s: float = COMMIT_ON_STOP_S) -> None:
        """Shutdown, before :meth:`stop`: take no new record, give the ones being handled ``drain_s`` to finish
        (a record waiting to be retried gives up its turn at once; one still stuck is cancelled and comes again
        to whoever owns its partition next), then commit what is done within ``commit_s``."""
        self._stopping.set()
        started = time.monotonic()
        for lanes in self.lanes:
            lanes.halt()  # parked keys stop waiting; the records in hand finish
        if self._in_flight:
            _, pending = await asyncio.wait(set(self._in_flight), timeout=drain_s)
            for handled in pending:
                log.warning("%s: a record still being handled at shutdown is left to be handled again", self.service)
                task = self._in_flight.get(handled)
                if task is not None:
                    task.cancel()
        for book in self._books:
            await book.flush(timeout_s=max(0.2, commit_s))
        log.info("%s: drained in %.1f s", self.service, time.monotonic() - started)

    async def dispatch(self, record: ConsumerRecord[Any, Any], tables: tuple[HandlerTable, ...]) -> None:
        """Handle one record: its effects, a dead letter, or nothing for an event this service ignores."""
        try:
            envelope = decode(record.value or b"")
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            await self.dead_letter(record, f"信封无法解析 (malformed envelope): {exc}")
            metrics.failed(self.service, metrics.UNREADABLE, metrics.DEAD_LETTERED)
            metrics.dead_lettered(self.service, "malformed")
            return
        routes = [table[envelope.type] for table in tables if envelope.type in table]
        telemetry.note_event(envelope.type)
        if not routes:
            return  # an event this service does not react to (the span's outcome: ignored)
        try:
            payloads = payloads_of(envelope, routes)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            await self.dead_letter(record, f"{envelope.type} 内容无效 (invalid payload): {exc}")
            metrics.failed(self.service, envelope.type, metrics.DEAD_LETTERED)
            metrics.dead_lettered(self.service, "invalid_payload")
            return
        case_no = next((str(p.case_no) for p in payloads if getattr(p, "case_no", "")), "")
        telemetry.note_event(envelope.type, case_no, envelope.case_id)
        with bind_case(case_no=case_no, case_id=envelope.case_id):  # every line logged meanwhile names the case
            await self._handle(record, envelope, routes, payloads)

    async def _handle(
        self, record: ConsumerRecord[Any, Any], envelope: Envelope, routes: list[Route[Any]], payloads: list[Any]
    ) -> None:
        where = (record.topic, record.partition, record.offset)
        marker = self.settings.key(self.service, "done", envelope.event_id)
        ran = False

        async def handle(txn: Txn) -> None:
            nonlocal ran
            ran = True
            for route, payload in zip(routes, payloads, strict=True):
                await route.handler(envelope, payload, txn)

        started = time.monotonic()
        try:
            outgoing = await run_once(self.redis, marker, envelope, handle, self.publications, guard=self._built)
            await self.publish_all(outgoing)
            if ran:
                for told in self.on_handled:
                    told(envelope, payloads)
            telemetry.note_outcome(telemetry.HANDLED if ran else telemetry.DUPLICATE)
            log.info("%s: handled %s (%d published)", self.service, envelope.type, len(outgoing))
        except Exception as exc:
            if is_transient(exc):
                outcome = metrics.WAITING if isinstance(exc, NotYet) else metrics.RETRIED
                metrics.failed(self.service, envelope.type, outcome)
                raise  # retried by attempt(), for ever
            attempts = self._attempts.get(where, 0) + 1
            if attempts < MAX_ATTEMPTS:
                self._attempts[where] = attempts
                log.exception("%s: handler failed at %s (attempt %d)", self.service, where, attempts)
                metrics.failed(self.service, envelope.type, metrics.RETRIED)
                raise
            self._attempts.pop(where, None)
            await self.dead_letter(record, f"处理失败 {MAX_ATTEMPTS} 次 (handler failed): {exc!r}")
            metrics.failed(self.service, envelope.type, metrics.DEAD_LETTERED)
            metrics.dead_lettered(self.service, "handler_failed")
            return
        metrics.handled(self.service, envelope.type, time.monotonic() - started)
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
        telemetry.note_dead_letter(reason)
        key = letter.key.encode() if letter.key else None
        letter_topic = self.settings.topic(topics.DEAD_LETTERS)
        await self.producer.send_all(
            self.broker, [OutRecord(letter_topic, key, msgspec.json.encode(letter))], within=PUBLISH_WITHIN_S
        )
