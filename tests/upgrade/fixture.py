"""A hall's whole state as a compact file: every record of its topics, its groups' offsets and its Redis keys.

``capture`` reads a namespace off the real Kafka and Redis; ``load`` writes it into another namespace of the
same length (Redis values may hold the namespace inside msgpack, where a length is encoded), record for record
at the same partitions and offsets, with the consumer groups' committed offsets, so the services there resume
exactly where the recorded ones stopped.
"""

from __future__ import annotations

import base64
import gzip
from pathlib import Path
from typing import Any, cast

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata
from redis.asyncio import Redis

from shared.settings import HallSettings


class Record(msgspec.Struct, array_like=True):
    """One Kafka record: partition, offset, key, value (text, or base64 after ``b64:``), headers."""

    partition: int
    offset: int
    key: str | None
    value: str | None
    headers: list[tuple[str, str]] = []


class Topic(msgspec.Struct):
    partitions: int
    records: list[Record]


class Key(msgspec.Struct, omit_defaults=True):
    """One Redis key: its type, value (strings as text, or base64 after ``b64:``) and time to live."""

    type: str
    value: Any
    ttl_ms: int = -1


class State(msgspec.Struct):
    namespace: str
    topics: dict[str, Topic]  # by short name (without the namespace)
    groups: dict[str, dict[str, int]]  # group short name → "topic short name/partition" → committed offset
    keys: dict[str, Key]  # by key, namespace included


def _text(data: bytes | None) -> str | None:
    return None if data is None else _str(data)


def _str(data: bytes) -> str:
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return "b64:" + base64.b64encode(data).decode()
    return "b64:" + base64.b64encode(data).decode() if text.startswith("b64:") else text


def _bytes(text: str | None) -> bytes | None:
    if text is None:
        return None
    return base64.b64decode(text[4:]) if text.startswith("b64:") else text.encode()


def _moved(text: str | None, old: str, new: str) -> bytes | None:
    return None if text is None else _in(text, old, new)


def _in(text: str, old: str, new: str) -> bytes:
    """``text`` as bytes, the recorded namespace ``old`` replaced by ``new`` (of the same length)."""
    data = base64.b64decode(text[4:]) if text.startswith("b64:") else text.encode()
    return data.replace(old.encode(), new.encode())


# ---------------------------------------------------------------------------------------------- capture


async def capture(settings: HallSettings) -> State:
    ns = settings.namespace
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        names = sorted(t for t in await admin.list_topics() if t.startswith(f"{ns}."))
        described = await admin.describe_topics(names) if names else []
        partitions = {d["topic"]: sorted(p["partition"] for p in d["partitions"]) for d in described}
        groups: dict[str, dict[str, int]] = {}
        for group, *_ in await admin.list_consumer_groups():
            if group.startswith(f"{ns}."):
                offsets = await admin.list_consumer_group_offsets(group)
                groups[group.removeprefix(f"{ns}.")] = {
                    f"{tp.topic.removeprefix(f'{ns}.')}/{tp.partition}": meta.offset for tp, meta in offsets.items()
                }
    finally:
        await admin.close()
    return State(ns, await _topics(settings, partitions), groups, await _keys(settings))


async def _topics(settings: HallSettings, names: dict[str, list[int]]) -> dict[str, Topic]:
    ns = settings.namespace
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(name, p) for name, numbers in names.items() for p in numbers]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        topics = {name.removeprefix(f"{ns}."): Topic(sum(tp.topic == name for tp in partitions), []) for name in names}
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, records in batch.items():
                topics[tp.topic.removeprefix(f"{ns}.")].records.extend(
                    Record(
                        r.partition,
                        r.offset,
                        _text(r.key),
                        _text(r.value),
                        [(k, _text(v) or "") for k, v in r.headers],
                    )
                    for r in records
                    if r.offset < ends[tp]
                )
        for topic in topics.values():
            topic.records.sort(key=lambda r: (r.partition, r.offset))
        return topics
    finally:
        await consumer.stop()


async def _keys(settings: HallSettings) -> dict[str, Key]:
    redis: Any = Redis.from_url(settings.redis_url)  # its replies are bytes: the client's stubs say less
    try:
        found: dict[str, Key] = {}
        names = sorted([k async for k in redis.scan_iter(match=f"{settings.namespace}:*", count=1000)])
        for raw in names:
            kind = (await redis.type(raw)).decode()
            value: Any
            if kind == "string":
                value = _str(await redis.get(raw))
            elif kind == "hash":
                value = {_str(f): _str(v) for f, v in sorted((await redis.hgetall(raw)).items())}
            elif kind == "set":
                value = sorted(_str(m) for m in await redis.smembers(raw))
            elif kind == "zset":
                value = [[_str(m), s] for m, s in await redis.zrange(raw, 0, -1, withscores=True)]
            elif kind == "list":
                value = [_str(i) for i in await redis.lrange(raw, 0, -1)]
            else:
                raise ValueError(f"{raw!r}: a Redis {kind} is not captured")
            found[_str(raw)] = Key(kind, value, int(await redis.pttl(raw)))
        return found
    finally:
        await redis.aclose()


def write(state: State, path: Path) -> None:
    path.write_bytes(gzip.compress(msgspec.json.encode(state), mtime=0))


def read(path: Path) -> State:
    return msgspec.json.decode(gzip.decompress(path.read_bytes()), type=State)


# ---------------------------------------------------------------------------------------------- load


async def load(state: State, settings: HallSettings) -> None:
    """Write ``state`` into ``settings.namespace`` (which must have the recorded namespace's length)."""
    old, new = state.namespace, settings.namespace
    if len(old) != len(new):
        raise ValueError(f"namespace {new!r} must have the length of the recorded {old!r}")
    await _load_topics(state, settings)
    await _load_groups(state, settings)
    redis = Redis.from_url(settings.redis_url)
    try:
        pipe = redis.pipeline(transaction=False)
        for name, key in state.keys.items():
            raw = _in(name, old, new)
            if key.type == "string":
                pipe.set(raw, _in(key.value, old, new))
            elif key.type == "hash" and key.value:
                pipe.hset(raw, mapping={_in(f, old, new): _in(v, old, new) for f, v in key.value.items()})
            elif key.type == "set" and key.value:
                pipe.sadd(raw, *(_in(m, old, new) for m in key.value))
            elif key.type == "zset" and key.value:
                pipe.zadd(raw, {_in(m, old, new): s for m, s in key.value})
            elif key.type == "list" and key.value:
                pipe.rpush(raw, *(_in(i, old, new) for i in key.value))
            if key.ttl_ms > 0:
                pipe.pexpire(raw, key.ttl_ms)
        await pipe.execute()
    finally:
        await redis.aclose()


async def _load_topics(state: State, settings: HallSettings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(settings.topic(name), topic.partitions, replication_factor=1)
            for name, topic in state.topics.items()
            if settings.topic(name) not in existing
        ]
        if missing:
            await admin.create_topics(missing)
    finally:
        await admin.close()
    old, new = state.namespace, settings.namespace
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        for name, topic in state.topics.items():
            for record in topic.records:
                sent = await producer.send_and_wait(
                    settings.topic(name),
                    _moved(record.value, old, new),
                    key=_moved(record.key, old, new),
                    partition=record.partition,
                    headers=[(k, cast(bytes, _bytes(v))) for k, v in record.headers],
                )
                if sent.offset != record.offset:
                    raise RuntimeError(
                        f"{name}/{record.partition}: record {record.offset} landed at {sent.offset}; "
                        "load into a namespace whose topics are empty"
                    )
    finally:
        await producer.stop()


async def _load_groups(state: State, settings: HallSettings) -> None:
    for group, offsets in state.groups.items():
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=f"{settings.namespace}.{group}",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            committed = {}
            for where, offset in offsets.items():
                name, partition = where.rsplit("/", 1)
                committed[TopicPartition(settings.topic(name), int(partition))] = OffsetAndMetadata(offset, "")
            consumer.assign(list(committed))
            await consumer.commit(committed)
        finally:
            await consumer.stop()
