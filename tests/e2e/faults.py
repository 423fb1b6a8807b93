"""What the fault tests share: a sandbox (a Kafka and Redis of their own, which they stop and kill), the hall's
processes started against it, records for timing, and the consumer group's committed offsets."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.processes import SERVICES, Launcher
from deploy.sandbox import Sandbox, free_port
from shared import topics
from shared.clock import OFFSET_VARIABLE, SYSTEM_CLOCK
from shared.envelope import Actor, Envelope, encode, new_event_id
from shared.settings import HallSettings, load_settings

INTAKE = Actor(kind="system", id="intake", name="受理")


@contextmanager
def sandbox(home: Path) -> Iterator[tuple[Sandbox, HallSettings]]:
    """A started sandbox and the settings of a namespace in it (create its topics with ``ensure_topics``);
    stopped afterwards."""
    box = Sandbox(home / "sandbox")
    box.start()
    try:
        hall = load_settings(
            kafka_bootstrap_servers=box.kafka_bootstrap_servers,
            redis_url=box.redis_url,
            namespace=f"f{uuid.uuid4().hex[:6]}",
        )
        yield box, hall
    finally:
        box.stop()


def launcher(home: Path, box: Sandbox, hall: HallSettings, **extra: str) -> Launcher:
    env = {
        **box.env(),
        "HALL_NAMESPACE": hall.namespace,
        OFFSET_VARIABLE: str(SYSTEM_CLOCK.offset.total_seconds()),
        **extra,
    }
    return Launcher(home / "hall", env, {name: free_port() for name in SERVICES})


def clock_request(now: datetime, hours: float = 8.0) -> tuple[str, bytes, str]:
    """A 补齐 deadline asked for as intake asks for one: (case id, record value, event id)."""
    clock_id = uuid.uuid4().hex
    ask = {
        "clock_id": clock_id,
        "purpose": "补齐",
        "case_no": f"F-{clock_id[:8]}",
        "department": "自然资源局",
        "starts_at": now.isoformat(),
        "limit": {"value": hours, "unit": "NH"},
    }
    envelope = Envelope(
        event_id=new_event_id(),
        type="ClockRequested.v1",
        case_id=clock_id,
        actor=INTAKE,
        occurred_at=now,
        payload=msgspec.Raw(msgspec.json.encode(ask)),
    )
    return clock_id, encode(envelope), envelope.event_id


async def send_requests(hall: HallSettings, count: int) -> dict[str, tuple[int, int]]:
    """Sends ``count`` clock requests to ``intake.events``; returns each event id's (partition, offset)."""
    producer = AIOKafkaProducer(bootstrap_servers=hall.kafka_bootstrap_servers, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        now = SYSTEM_CLOCK.now()
        sent = []
        for _ in range(count):
            clock_id, value, event_id = clock_request(now)
            future = await producer.send(hall.topic(topics.INTAKE_EVENTS), value, key=clock_id.encode())
            sent.append((event_id, future))
        return {event_id: ((meta := await future).partition, meta.offset) for event_id, future in sent}
    finally:
        await producer.stop()


async def committed(hall: HallSettings, service: str, topic: str) -> dict[int, int]:
    """The group's committed offset per partition of ``topic`` (-1 where nothing is committed)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=hall.kafka_bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(f"{hall.namespace}.{service}")
    finally:
        await admin.close()
    found = {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == hall.topic(topic)}
    return {p: found.get(p, -1) for p in range(topics.PARTITIONS)}


async def end_offsets(hall: HallSettings, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=hall.kafka_bootstrap_servers)
    await consumer.start()
    try:
        partitions = [TopicPartition(hall.topic(topic), p) for p in range(topics.PARTITIONS)]
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in ends.items()}


async def lag(hall: HallSettings, service: str, topic: str) -> int:
    ends, done = await end_offsets(hall, topic), await committed(hall, service, topic)
    return sum(end - max(done[p], 0) for p, end in ends.items())


async def until(condition: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> float:
    """Waits until ``condition`` holds; returns how long it took."""
    started = time.monotonic()
    while not await condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.3)
    return time.monotonic() - started
