"""Rebuilding a service's Redis from Kafka: what every service's ``rebuild.py`` shares.

A service keeps a ``<ns>:<service>:built`` key once its Redis holds state it built itself (or folded from the
log). A service that starts without it rebuilds before it consumes (:func:`rebuild_if_empty`); ``./hall rebuild
SERVICE`` wipes the service's keys and rebuilds them on demand.

A rebuild reads whole topics (:func:`read_topics`, to their end as they are now), folds them in memory into a
:class:`Memory` (the real handlers may run against it through :class:`MemoryPipe`, the same :class:`Txn` they
get from :mod:`shared.outbox`), and writes the result as a mass insertion of packed commands. Outbox markers come
back for every input that published something within the markers' lifetime: each holds the records its handling
published, exactly as they are in the log, so a redelivery (or a retried command) re-publishes the same event ids.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from itertools import chain
from typing import Any, NamedTuple, cast

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from redis._parsers.encoders import Encoder
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from shared import topics
from shared.clock import SystemClock
from shared.contracts import Publications
from shared.envelope import Envelope, decode
from shared.kafka import HandlerTable, Route, ServiceRuntime, payloads_of
from shared.outbox import MARKER_TTL_S, Outgoing, Txn
from shared.replies import decode_reply
from shared.startup import retry_kafka
from shared.telemetry import replaying, trace_id_in

log = logging.getLogger("hall.rebuild")
CHUNK = 5000
CHUNK_BYTES = 16 * 1024 * 1024
MSET_KEYS = 1000
LOCK_S = 900  # one instance rebuilds at a time; a crashed one's turn ends after this
REAL_TIME = SystemClock(timedelta(0))  # Kafka's time stamps are the real time, whatever the hall's offset
_encoder = Encoder("utf-8", "strict", False)


class Record(NamedTuple):
    """One record of a topic of the hall's (``topic`` as :mod:`shared.topics` names it)."""

    topic: str
    partition: int
    offset: int
    timestamp: int  # ms, as the producer stamped it
    key: bytes | None
    value: bytes
    trace_id: str = ""  # from its traceparent header: read models that keep it (the timeline) get it back


def _partitions(name: str) -> int:
    return next(spec.partitions for spec in topics.ALL if spec.name == name)


async def read_topics(
    bootstrap: str, namespace: str, names: Iterable[str], start: dict[tuple[str, int], int] | None = None
) -> list[Record]:
    """Every record of the named topics, from ``start`` (else the beginning) to each partition's end now."""
    names = list(names)
    if not names:
        return []
    full = {f"{namespace}.{name}": name for name in names}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    out: list[Record] = []
    try:
        partitions = [TopicPartition(f"{namespace}.{n}", p) for n in names for p in range(_partitions(n))]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        for tp in partitions:
            first = (start or {}).get((full[tp.topic], tp.partition), 0)
            if first:
                consumer.seek(tp, first)
        waiting = {tp for tp in partitions if ends[tp] > (start or {}).get((full[tp.topic], tp.partition), 0)}
        while waiting:
            batches = await consumer.getmany(*waiting, timeout_ms=1000, max_records=50_000)
            for tp, records in batches.items():
                name, end = full[tp.topic], ends[tp]
                out.extend(
                    Record(name, tp.partition, r.offset, r.timestamp, r.key, r.value, trace_id_in(r.headers))
                    for r in records
                    if r.offset < end and r.value
                )
            for tp in list(waiting):
                if await consumer.position(tp) >= ends[tp]:
                    waiting.discard(tp)
    finally:
        await consumer.stop()
    return out


async def committed_offsets(bootstrap: str, namespace: str, service: str) -> dict[tuple[str, int], int]:
    """The service's consumer group's committed offsets, by (topic name, partition)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        # The broker may still be loading its groups (GroupCoordinatorNotAvailableError): waited for, bounded.
        offsets = await retry_kafka(
            f"{service} rebuild", lambda: admin.list_consumer_group_offsets(f"{namespace}.{service}")
        )
    finally:
        await admin.close()
    prefix = f"{namespace}."
    return {
        (tp.topic.removeprefix(prefix), tp.partition): meta.offset
        for tp, meta in offsets.items()
        if tp.topic.startswith(prefix) and meta.offset >= 0
    }


def decoded(records: Iterable[Record]) -> list[tuple[Record, Envelope]]:
    """Records with their envelopes; an unreadable one is skipped (it went to the dead letters when consumed)."""
    out: list[tuple[Record, Envelope]] = []
    for record in records:
        try:
            out.append((record, decode(record.value)))
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning(
                "rebuild: skipping an unreadable record %s/%d@%d", record.topic, record.partition, record.offset
            )
    return out


# ---------------------------------------------------------------- state in memory


def _b(value: Any) -> bytes:
    return cast("bytes", _encoder.encode(value))


class Memory:
    """A service's keys as a rebuild computes them, written to Redis at the end as a mass insertion."""

    def __init__(self) -> None:
        self.strings: dict[str, bytes] = {}
        self.hashes: dict[str, dict[bytes, bytes]] = {}
        self.sets: dict[str, set[bytes]] = {}
        self.zsets: dict[str, dict[bytes, float]] = {}
        self.ttl: dict[str, int] = {}

    def keys(self) -> int:
        return len(self.strings) + len(self.hashes) + len(self.sets) + len(self.zsets)

    def drop(self, key: str) -> None:
        self.strings.pop(key, None)
        self.hashes.pop(key, None)
        self.sets.pop(key, None)
        self.zsets.pop(key, None)
        self.ttl.pop(key, None)

    async def flush(self, redis: Redis) -> None:
        """Write every key, as a mass insertion: the commands packed here, sent CHUNK at a time on one connection
        (redis-py's pipeline packs each command's arguments one by one, about half the flush's time)."""
        conn = await redis.connection_pool.get_connection()
        try:
            batch: list[bytes] = []
            size = 0
            for command in self._commands():
                batch.append(command)
                size += len(command)
                if len(batch) >= CHUNK or size >= CHUNK_BYTES:
                    await _send(conn, batch)
                    batch, size = [], 0
            await _send(conn, batch)
        except BaseException:
            await conn.disconnect()  # replies may be left unread on it
            raise
        finally:
            await redis.connection_pool.release(conn)

    def _commands(self) -> Iterator[bytes]:
        strings = list(self.strings.items())
        for start in range(0, len(strings), MSET_KEYS):  # one MSET per thousand, not a thousand SETs
            pairs = ((key.encode(), value) for key, value in strings[start : start + MSET_KEYS])
            yield _command(b"MSET", *chain.from_iterable(pairs))
        for key, fields in self.hashes.items():
            if fields:
                yield _command(b"HSET", key.encode(), *chain.from_iterable(fields.items()))
        for key, members in self.sets.items():
            if members:
                yield _command(b"SADD", key.encode(), *members)
        for key, scores in self.zsets.items():
            if scores:
                pairs = ((repr(score).encode(), member) for member, score in scores.items())
                yield _command(b"ZADD", key.encode(), *chain.from_iterable(pairs))
        for key, seconds in self.ttl.items():
            yield _command(b"EXPIRE", key.encode(), b"%d" % seconds)


def _command(*args: bytes) -> bytes:
    """One command in Redis's protocol (RESP): ``*<count>`` then each argument as ``$<length>`` and its bytes."""
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(arg), arg) for arg in args)


async def _send(conn: Any, commands: list[bytes]) -> None:
    """Send packed commands and read a reply for each (an error reply raises ``ResponseError``)."""
    if not commands:
        return
    await conn.send_packed_command(b"".join(commands), check_health=False)
    for _ in commands:
        await conn.read_response()


class MemoryPipe:
    """The part of a Redis pipeline the handlers use, on a :class:`Memory`: reads answer at once, writes apply."""

    def __init__(self, memory: Memory) -> None:
        self.m = memory

    # reads (awaited by Txn)
    async def watch(self, *_: str) -> None:
        return None

    async def get(self, key: str) -> bytes | None:
        return self.m.strings.get(key)

    async def hgetall(self, key: str) -> dict[bytes, bytes]:
        return dict(self.m.hashes.get(key, {}))

    async def immediate_execute_command(self, command: str, key: str) -> int:
        if command.upper() != "INCR":
            raise NotImplementedError(command)
        return self.incr(key)

    # writes (queued by Txn.write / Txn.set)
    def set(self, key: str, value: Any, ex: int | None = None, nx: bool = False, **_: Any) -> bool:
        if nx and key in self.m.strings:
            return False
        self.m.strings[key] = _b(value)
        if ex:
            self.m.ttl[key] = int(ex)
        return True

    def get_now(self, key: str) -> bytes | None:
        return self.m.strings.get(key)

    def incr(self, key: str, amount: int = 1) -> int:
        value = int(self.m.strings.get(key, b"0")) + amount
        self.m.strings[key] = _b(value)
        return value

    def hset(
        self, key: str, field: Any = None, value: Any = None, mapping: dict[Any, Any] | None = None, **_: Any
    ) -> int:
        fields = self.m.hashes.setdefault(key, {})
        if field is not None:
            fields[_b(field)] = _b(value)
        for f, v in (mapping or {}).items():
            fields[_b(f)] = _b(v)
        return 1

    def hsetnx(self, key: str, field: Any, value: Any) -> int:
        fields = self.m.hashes.setdefault(key, {})
        if _b(field) in fields:
            return 0
        fields[_b(field)] = _b(value)
        return 1

    def hdel(self, key: str, *names: Any) -> int:
        fields = self.m.hashes.get(key, {})
        return sum(fields.pop(_b(n), None) is not None for n in names)

    def hincrby(self, key: str, field: Any, amount: int = 1) -> int:
        fields = self.m.hashes.setdefault(key, {})
        value = int(fields.get(_b(field), b"0")) + amount
        fields[_b(field)] = _b(value)
        return value

    def sadd(self, key: str, *values: Any) -> int:
        members = self.m.sets.setdefault(key, set())
        before = len(members)
        members.update(_b(v) for v in values)
        return len(members) - before

    def srem(self, key: str, *values: Any) -> int:
        members = self.m.sets.get(key, set())
        before = len(members)
        members.difference_update(_b(v) for v in values)
        return before - len(members)

    def zadd(self, key: str, mapping: dict[Any, float], **_: Any) -> int:
        scores = self.m.zsets.setdefault(key, {})
        for member, score in mapping.items():
            scores[_b(member)] = float(score)
        return len(mapping)

    def zrem(self, key: str, *values: Any) -> int:
        scores = self.m.zsets.get(key, {})
        return sum(scores.pop(_b(v), None) is not None for v in values)

    def delete(self, *keys: str) -> int:
        for key in keys:
            self.m.drop(key)
        return len(keys)

    def expire(self, key: str, seconds: int) -> bool:
        self.m.ttl[key] = int(seconds)
        return True


class Replayer:
    """Runs a service's real handlers over recorded events against a :class:`Memory`, publishing nothing."""

    def __init__(self, tables: tuple[HandlerTable, ...], publications: Publications) -> None:
        self.tables = tables
        self.publications = publications
        self.memory = Memory()
        self.pipe = MemoryPipe(self.memory)
        self.failures = 0
        self.handled = 0
        self._routes: dict[str, list[Route[Any]]] = {}  # by event type, looked up once per type, not per event

    def routes(self, kind: str) -> list[Route[Any]]:
        found = self._routes.get(kind)
        if found is None:
            found = self._routes[kind] = [table[kind] for table in self.tables if kind in table]
        return found

    def wants(self, env: Envelope) -> bool:
        return bool(self.routes(env.type))

    async def apply(self, env: Envelope) -> list[Outgoing]:
        """Handle one event as the consumer would; returns what it would have published."""
        routes = self.routes(env.type)
        if not routes:
            return []
        try:
            payloads = payloads_of(env, routes)
            txn = Txn(cast("Pipeline", self.pipe), env, self.publications)
            for route, payload in zip(routes, payloads, strict=True):
                await route.handler(env, payload, txn)
        except Exception:  # what failed when consumed failed here too: it was dead-lettered then
            self.failures += 1
            log.debug("rebuild: %s %s failed", env.type, env.event_id, exc_info=True)
            return []
        for write in txn.writes:
            write(cast("Pipeline", self.pipe))
        self.handled += 1
        return txn.outgoing


# ---------------------------------------------------------------- outputs and markers


class Outputs:
    """What a service published, by the event that caused it, exactly as it is in the log."""

    def __init__(self) -> None:
        self.by_cause: dict[str, list[Outgoing]] = {}
        self.first: dict[str, tuple[int, int, int]] = {}  # cause → (timestamp, partition, offset) of its first

    def add_replies(self, namespace: str, records: Iterable[Record]) -> None:
        """The replies to the commands that published something (keyed by the command's event id)."""
        for record in records:
            cause = (record.key or b"").decode()
            if cause in self.by_cause:
                self.by_cause[cause].append(Outgoing(f"{namespace}.{record.topic}", cause, record.value))

    def add(self, namespace: str, record: Record, env: Envelope) -> None:
        if not env.causation_id:
            return
        outgoing = Outgoing(f"{namespace}.{record.topic}", (record.key or b"").decode(), record.value)
        self.by_cause.setdefault(env.causation_id, []).append(outgoing)
        self.first.setdefault(env.causation_id, (record.timestamp, record.partition, record.offset))


def write_markers(memory: Memory, marker: Callable[[str], str], outputs: Outputs) -> int:
    """The outbox markers the service's Redis held: one per input that published something within the markers'
    lifetime, holding what it published (replies included) exactly as in the log, for the rest of that lifetime.
    A redelivered or retried input then re-publishes the same event ids and changes nothing."""
    now_ms = int(REAL_TIME.now().timestamp() * 1000)
    count = 0
    for event_id, records in outputs.by_cause.items():
        left = MARKER_TTL_S - (now_ms - outputs.first[event_id][0]) // 1000
        if left > 0:
            memory.strings[marker(event_id)] = msgspec.json.encode(records)
            memory.ttl[marker(event_id)] = int(left)
            count += 1
    return count


# ---------------------------------------------------------------- wipe, built, rebuild before consuming


def built_key(namespace: str, service: str) -> str:
    return f"{namespace}:{service}:built"


async def wipe(redis: Redis, namespace: str, service: str, keep: tuple[str, ...] = ()) -> int:
    """Delete the service's keys in the namespace (``<ns>:<service>:*``) except those under ``keep`` prefixes."""
    prefix = f"{namespace}:{service}:"
    kept = tuple(prefix + k for k in keep)
    deleted = 0
    batch: list[bytes] = []
    async for key in redis.scan_iter(match=prefix + "*", count=5000):
        if kept and key.decode().startswith(kept):
            continue
        batch.append(key)
        if len(batch) >= CHUNK:
            deleted += await redis.unlink(*batch)
            batch = []
    if batch:
        deleted += await redis.unlink(*batch)
    return deleted


Rebuild = Callable[[], Awaitable[str]]


async def rebuild_service(redis: Redis, namespace: str, service: str, fold: Rebuild, keep: tuple[str, ...] = ()) -> str:
    """Wipe the service's keys, fold its log into them and mark it built; returns the fold's summary."""
    started = time.monotonic()
    await wipe(redis, namespace, service, keep)
    summary = await fold()
    await redis.set(built_key(namespace, service), summary)
    log.info("%s rebuilt from Kafka in %.1f s: %s", service, time.monotonic() - started, summary)
    return summary


async def rebuild_if_empty(
    redis: Redis, namespace: str, service: str, fold: Rebuild, keep: tuple[str, ...] = ()
) -> str | None:
    """Before consuming: rebuild when the service's ``built`` key is missing; None when it is there.

    Instances starting together take turns (a lock outside the service's keys): the first rebuilds, the others
    find the ``built`` key and do not wipe what it has begun to change."""
    built, lock = built_key(namespace, service), f"{namespace}:rebuilding:{service}"
    while not await redis.set(lock, "1", nx=True, ex=LOCK_S):
        if await redis.exists(built):
            return None
        await asyncio.sleep(0.5)
    try:
        if await redis.exists(built):
            return None
        return await rebuild_service(redis, namespace, service, fold, keep)
    finally:
        await redis.delete(lock)


class RebuildingRuntime(ServiceRuntime):
    """A service runtime that, once Redis is connected and before anything is consumed, runs its
    ``before_consuming`` steps (a rebuild when the service's ``built`` key is missing)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.before_consuming: list[Callable[[], Awaitable[object]]] = []

    async def start(self) -> None:
        await super().start()
        for step in self.before_consuming:
            await step()


# ---------------------------------------------------------------- replaying a service's own handlers


class Replay(msgspec.Struct, kw_only=True):
    """What a replay of a service's handlers over its recorded inputs came to."""

    memory: Memory
    inputs: int  # input records read
    replayed: int  # handled again
    skipped: int  # commands that published nothing (refused): they changed nothing
    left: int  # inputs that published nothing, at or after the group's offsets: left to the consumer
    diverged: int  # inputs whose handling now publishes other types than the log shows
    failures: int  # handlers that raised
    markers: int


BeforeEach = Callable[[Envelope, list[Outgoing]], None]


@contextmanager
def _without_gc() -> Iterator[None]:
    """No cyclic garbage collection while a replay builds its millions of long-lived objects (none of them in
    cycles): each full collection walks them all again, about a tenth of a rebuild's time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def replay(
    settings: Any,
    service: str,
    tables: tuple[HandlerTable, ...],
    publications: Publications,
    *,
    inputs: Iterable[str],
    outputs: Iterable[str] = (),
    commands: Iterable[str] = (),
    before_each: BeforeEach | None = None,
) -> Replay:
    """Run the service's real handlers again over every input it consumed, in the order it handled them.

    That order is exact for the inputs that published something (the offsets of their first output; one case
    is one partition); the others fall in by their own time stamps. Commands that published nothing were
    refused and changed nothing: they are skipped, so a refusal cannot turn into a success. An input the
    consumer group will see again (at or after its committed offset) that published nothing is left to the
    consumer: it may not have been handled yet, and handling it then gives what handling it now would.
    ``before_each`` sees each input with the records the log says it published (e.g. to reuse their ids).
    """
    with _without_gc():
        bootstrap, ns = settings.kafka_bootstrap_servers, settings.namespace
        outputs, commands = list(outputs), set(commands)
        published = Outputs()
        for record, env in decoded(await read_topics(bootstrap, ns, outputs)):
            published.add(ns, record, env)
        if commands:
            published.add_replies(ns, await read_topics(bootstrap, ns, [topics.GATEWAY_REPLIES]))
        received = decoded(await read_topics(bootstrap, ns, inputs))
        committed = await committed_offsets(bootstrap, ns, service)
        replayer = Replayer(tables, publications)
        order: list[tuple[tuple[int, int, int, int], Envelope, str]] = []
        skipped, left, seen = 0, 0, set()
        for record, env in received:
            if env.event_id in seen or not replayer.wants(env):
                continue
            seen.add(env.event_id)
            first = published.first.get(env.event_id)
            if first is None and record.topic in commands:
                skipped += 1
                continue
            if first is None and record.offset >= committed.get((record.topic, record.partition), 0):
                left += 1  # the consumer handles it (again) after the rebuild
                continue
            key = (first[0], 0, first[1], first[2]) if first else (record.timestamp, 1, record.partition, record.offset)
            order.append((key, env, record.trace_id))
        order.sort(key=lambda pair: pair[0])
        full_outputs = {f"{ns}.{name}" for name in outputs}
        diverged = 0
        for _, env, trace_id in order:
            logged = published.by_cause.get(env.event_id, [])
            if before_each is not None:
                before_each(env, logged)
            with replaying(trace_id):
                again = await replayer.apply(env)
            if _tags(again, full_outputs) != _tags(logged, full_outputs):
                diverged += 1
                answers = [decode_reply(o.value).reason for o in again if o.topic.endswith(topics.GATEWAY_REPLIES)]
                log.warning(
                    "%s rebuild: %s %s now publishes other events than the log shows%s",
                    service,
                    env.type,
                    env.event_id,
                    f" (answer: {answers[0]})" if answers and answers[0] else "",
                )
        markers = write_markers(replayer.memory, lambda event_id: f"{ns}:{service}:done:{event_id}", published)
        return Replay(
            memory=replayer.memory,
            inputs=len(received),
            replayed=replayer.handled,
            skipped=skipped,
            left=left,
            diverged=diverged,
            failures=replayer.failures,
            markers=markers,
        )


def _tags(published: list[Outgoing], topics_: set[str]) -> list[tuple[str, str]]:
    """What was published on ``topics_``: each record's topic and event type."""
    return [(o.topic, decode(o.value).type) for o in published if o.topic in topics_]
