"""Timing's alerts in its metrics (issue 17, item 3): each level a clock reaches moves ``hall_alerts_fired_total``
by level, and the consume path's counters show the clock request it handled. Real Kafka and Redis, time moved by a
ManualClock (the timing service's own test helpers)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from shared import metrics, topics
from shared.clock import ManualClock
from shared.settings import HallSettings
from tests.halls import fresh_settings
from tests.integration.test_timing_service import Bus, halt, local, running

LEVELS = ("预警", "逾期", "督办", "通报")


@pytest.fixture
async def ns(settings: HallSettings) -> HallSettings:
    return await fresh_settings(settings)


@pytest.fixture
async def bus(ns: HallSettings) -> AsyncIterator[Bus]:
    async with Bus(ns) as bus:
        yield bus


def fired(level: str) -> float:
    return metrics.REGISTRY.get_sample_value("hall_alerts_fired_total", {"level": level}) or 0.0


def handled(event_type: str) -> float:
    labels = {"service": "timing", "event_type": event_type, "outcome": metrics.HANDLED}
    return metrics.REGISTRY.get_sample_value("hall_records_handled_total", labels) or 0.0


async def test_each_alert_level_raised_moves_its_counter(ns: HallSettings, bus: Bus) -> None:
    clock = ManualClock(local("2026-09-30 10:00"))
    before = {level: fired(level) for level in LEVELS}
    requested_before = handled("ClockRequested.v1")
    timing = await running(ns, clock)
    try:
        case_id = uuid.uuid4().hex
        await bus.send(
            topics.INTAKE_EVENTS,
            "ClockRequested",
            case_id,
            {
                "clock_id": case_id,
                "purpose": "整改",
                "case_no": "M1",
                "starts_at": local("2026-09-30 10:00").isoformat(),
                "limit": {"value": 1, "unit": "WH"},
            },
        )
        await bus.wait("ClockStarted", clock_id=case_id)
        assert handled("ClockRequested.v1") >= requested_before + 1
        clock.set(local("2026-10-20 10:00"))  # every level is due
        await bus.wait("ClockAlerted", 4, clock_id=case_id, timeout_s=30)
        for level in LEVELS:
            assert fired(level) >= before[level] + 1, level
    finally:
        await halt(timing)
