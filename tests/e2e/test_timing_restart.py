"""1,000 clocks; timing killed with SIGKILL and its Redis wiped; restarted: every pending deadline comes back and
each alert level of each clock is raised exactly once (counted on ``timing.events``).

The clocks are deadlines of natural seconds (NH limits), so the whole test takes well under a minute.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from redis.asyncio import Redis

from deploy.processes import Launcher
from shared import topics
from shared.clock import SYSTEM_CLOCK
from shared.envelope import Actor, Envelope, encode, new_event_id
from shared.settings import HallSettings

pytestmark = pytest.mark.e2e
CLOCKS = 1000
EARLY = 100  # due before the crash: raised once, and not again after the rebuild
LATER = 40  # seconds: the other deadlines come after the crash and the rebuild
INTAKE = Actor(kind="system", id="intake", name="受理")


class Alerts:
    """Reads ``timing.events`` from the start: what was started and every alert, raw records included."""

    def __init__(self, settings: HallSettings, clock_ids: set[str]) -> None:
        self.clock_ids = clock_ids
        self.consumer = AIOKafkaConsumer(
            settings.topic(topics.TIMING_EVENTS),
            bootstrap_servers=settings.kafka_bootstrap_servers,
            auto_offset_reset="earliest",
            group_id=None,
        )
        self.started: set[str] = set()
        self.raw: Counter[tuple[str, str]] = Counter()
        self.distinct: dict[tuple[str, str], set[str]] = {}

    async def run(self) -> None:
        await self.consumer.start()
        try:
            async for record in self.consumer:
                envelope = msgspec.json.decode(record.value or b"", type=Envelope)
                payload = msgspec.json.decode(envelope.payload)
                clock_id = payload.get("clock_id", "")
                if clock_id not in self.clock_ids:
                    continue
                if envelope.type == "ClockStarted.v1":
                    self.started.add(clock_id)
                elif envelope.type == "ClockAlerted.v1":
                    key = (clock_id, payload["level"])
                    self.raw[key] += 1
                    self.distinct.setdefault(key, set()).add(envelope.event_id)
        finally:
            await self.consumer.stop()

    def overdue(self) -> set[str]:
        return {clock_id for clock_id, level in self.raw if level == "逾期"}


async def request(producer: AIOKafkaProducer, hall: HallSettings, clock_id: str, now: datetime, seconds: float) -> None:
    """A 补齐 deadline of ``seconds`` asked for as intake asks for one."""
    ask = {
        "clock_id": clock_id,
        "purpose": "补齐",
        "case_no": f"E2E-{clock_id[:8]}",
        "department": "自然资源局",
        "starts_at": now.isoformat(),
        "limit": {"value": seconds / 3600, "unit": "NH"},
    }
    envelope = Envelope(
        event_id=new_event_id(),
        type="ClockRequested.v1",
        case_id=clock_id,
        actor=INTAKE,
        occurred_at=now,
        payload=msgspec.Raw(msgspec.json.encode(ask)),
    )
    await producer.send(hall.topic(topics.INTAKE_EVENTS), encode(envelope), key=clock_id.encode())


async def until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.2)


async def test_every_deadline_survives_a_killed_timing_with_its_redis_wiped(
    processes: Launcher, settings: HallSettings
) -> None:
    hall = msgspec.structs.replace(settings, namespace=processes.env["HALL_NAMESPACE"])
    warm_up = uuid.uuid4().hex
    clocks = {uuid.uuid4().hex: (3 + n % 5 if n < EARLY else LATER + (n % 300) / 20) for n in range(CLOCKS)}
    alerts = Alerts(hall, {warm_up, *clocks})
    reader = asyncio.create_task(alerts.run())
    producer = AIOKafkaProducer(bootstrap_servers=hall.kafka_bootstrap_servers, enable_idempotence=True)
    await producer.start()
    try:
        # Timing may still be catching up after an earlier test restarted it: wait until it answers.
        await request(producer, hall, warm_up, SYSTEM_CLOCK.now(), 3600)
        await until(lambda: warm_up in alerts.started, 60, "timing answers")
        now = SYSTEM_CLOCK.now()
        for clock_id, seconds in clocks.items():
            await request(producer, hall, clock_id, now, seconds)
        await producer.flush()
    finally:
        await producer.stop()

    try:
        await until(lambda: clocks.keys() <= alerts.started, LATER - 10, "every clock started")
        early = {clock_id for clock_id, seconds in clocks.items() if seconds < 10}
        await until(lambda: early <= alerts.overdue(), 30, "the early deadlines raised")
        assert SYSTEM_CLOCK.now() < now + timedelta(seconds=LATER), "too slow: later deadlines passed before the crash"

        processes.kill("timing")
        redis = Redis.from_url(hall.redis_url)
        try:
            keys = [key async for key in redis.scan_iter(match=hall.key("timing", "*"), count=1000)]
            assert keys, "timing kept nothing in Redis"
            await redis.delete(*keys)
            assert [key async for key in redis.scan_iter(match=hall.key("timing", "*"), count=1000)] == []
        finally:
            await redis.aclose()
        processes.start("timing")
        assert not processes.wait_healthy(["timing"], timeout_s=60)
        redis = Redis.from_url(hall.redis_url)
        try:
            replayed = await redis.get(hall.key("timing", "built"))
        finally:
            await redis.aclose()
        assert replayed is not None, "timing did not rebuild its state"
        assert int(replayed) >= CLOCKS + len(early), "the rebuild did not replay every clock and early alert"

        await until(lambda: alerts.overdue() == set(clocks), 60, "every deadline raised after the restart")
        await asyncio.sleep(3.0)  # anything raised twice would show up now
    finally:
        reader.cancel()

    for level in ("预警", "逾期"):
        raised = {clock_id: alerts.raw[(clock_id, level)] for clock_id in clocks}
        assert set(raised.values()) == {1}, (level, Counter(raised.values()))
        assert all(len(alerts.distinct[(clock_id, level)]) == 1 for clock_id in clocks), level
