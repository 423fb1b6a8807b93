"""Alerts the scheduler records in Redis but cannot publish are published when timing starts again: the failure of
2026-11-30 (case 15052520261130002674: two 预警 recorded, ``LeaderNotAvailableError``, never published).

On the real Kafka and Redis; the publication fails the way Kafka failed then (a ``LeaderNotAvailableError`` from
the publish), then timing is stopped and started again.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, cast

import msgspec
import pytest
from aiokafka.errors import LeaderNotAvailableError
from redis.asyncio import Redis

from services.timing.store import Keys, decode_clock
from shared import topics
from shared.clock import ManualClock
from shared.envelope import Envelope
from shared.outbox import Outgoing
from shared.settings import HallSettings
from tests.halls import fresh_settings
from tests.integration.test_timing_service import Bus, accepted, halt, local, running

pytestmark = pytest.mark.integration


@pytest.fixture
async def ns(settings: HallSettings) -> HallSettings:
    return await fresh_settings(settings)


async def test_an_alert_recorded_but_not_published_is_published_once_when_timing_starts(ns: HallSettings) -> None:
    clock = ManualClock(local("2026-09-30 10:00"))
    keys = Keys(ns)
    redis = Redis.from_url(ns.redis_url)
    async with Bus(ns) as bus:
        timing = await running(ns, clock)
        case_id = uuid.uuid4().hex
        attempts: list[int] = []
        try:
            await bus.send(
                topics.INTAKE_EVENTS,
                "CaseAccepted",
                case_id,
                accepted("OB1", "2026-09-30 10:00", {"value": 3, "unit": "WD"}),
            )
            await bus.wait("ClockStarted", clock_id=case_id)

            async def broker_gone(outgoing: list[Outgoing]) -> None:
                attempts.append(len(outgoing))
                raise LeaderNotAvailableError("the broker is away")

            timing.publish_all = broker_gone  # type: ignore[method-assign]
            clock.set(local("2026-10-10 10:36"))  # 预警 is due

            async def recorded() -> bool:
                raw = cast("bytes | None", await redis.get(keys.clock(case_id)))
                return raw is not None and "预警" in decode_clock(raw).alerted

            for _ in range(100):
                if await recorded() and attempts:
                    break
                await asyncio.sleep(0.1)
            assert await recorded()  # timing recorded the level as raised...
            assert attempts  # ...and tried to publish it
            staged = await redis.hgetall(keys.outbox)
            assert len(staged) == 1  # the alert waits in the outbox
            staged_id = _event_id(msgspec.json.decode(next(iter(staged.values())))["record"]["value"])
            await asyncio.sleep(1.0)
            assert bus.of("ClockAlerted", clock_id=case_id) == []  # nothing reached Kafka
        finally:
            await halt(timing)

        timing = await running(ns, clock)  # started again: the outbox is published before the first claim
        try:
            (warning,) = await bus.wait("ClockAlerted", clock_id=case_id, level="预警")
            assert warning["level"] == "预警"
            published = [e.event_id for e, p in bus.seen if e.type == "ClockAlerted.v1" and p["clock_id"] == case_id]
            assert set(published) == {staged_id}  # the same event id as recorded: downstream drops a repeat
            assert await redis.hlen(keys.outbox) == 0

            clock.set(local("2026-10-10 18:00"))  # 逾期 next: 预警 is not raised again
            await bus.wait("ClockAlerted", clock_id=case_id, level="逾期")
            await asyncio.sleep(1.0)
            assert [a["level"] for a in bus.of("ClockAlerted", clock_id=case_id)] == ["预警", "逾期"]
        finally:
            await halt(timing)
            await redis.aclose()


def _event_id(value: Any) -> str:
    """The event id inside a staged record's value (bytes, base64 in the outbox's JSON)."""
    data = msgspec.json.decode(msgspec.json.encode(value), type=bytes)
    return msgspec.json.decode(data, type=Envelope).event_id
