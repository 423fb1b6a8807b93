"""Revisions on a running hall (real Kafka and Redis, two timing instances, a ManualClock): 1,000 open clocks
computed with the provisional 2027, some already 预警 under it; an operator loads an official 2027 with moved
holidays and make-up days; then healing of a clock an older version refused.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from services.timing.messages import CalendarLoaded
from services.timing.store import Keys, store_year
from services.timing.yearfile import read_year_file
from shared import topics
from shared.calendar import WorkingCalendar, Years
from shared.clock import ManualClock
from shared.envelope import Actor, encode, wrap
from shared.halls import load_halls
from shared.settings import HallSettings
from tests.halls import fresh_settings
from tests.integration.test_timing_service import Bus, accepted, halt, local, running

pytestmark = pytest.mark.integration

# The State Council's 2027 (as a test invents it): 元旦 moved to 01-01..01-05 with Saturday 01-09 worked, 春节
# 02-05..02-11 with 02-20 worked. Provisionally 01-04 and 01-05 were working days and 01-09 was not.
OFFICIAL_2027 = """year = 2027
label = "2027 年节假日安排（测试）"
workdays = [2027-01-09, 2027-02-20]
[[holidays]]
name = "元旦"
from = 2027-01-01
to = 2027-01-05
[[holidays]]
name = "春节"
from = 2027-02-05
to = 2027-02-11
"""
OPERATOR = Actor(kind="operator", id="op-qian", name="钱")


@pytest.fixture
async def ns(settings: HallSettings) -> HallSettings:
    return await fresh_settings(settings)


@pytest.fixture
async def bus(ns: HallSettings) -> AsyncIterator[Bus]:
    async with Bus(ns) as bus:
        yield bus


async def load(ns: HallSettings, bus: Bus, path: Path) -> None:
    """What ``./hall calendar load`` does: the year on timing.events, then in Redis for running instances."""
    plan = read_year_file(path)
    loaded = CalendarLoaded(year=plan.year, label=plan.label, holidays=plan.holidays, workdays=plan.workdays)
    envelope = wrap(loaded, case_id=f"calendar-{plan.year}", actor=OPERATOR)
    await bus.producer.send_and_wait(ns.topic(topics.TIMING_EVENTS), encode(envelope), key=envelope.case_id.encode())
    redis = Redis.from_url(ns.redis_url)
    try:
        await store_year(redis, Keys(ns), plan)
    finally:
        await redis.aclose()


async def test_loading_the_official_year_revises_each_affected_clock_once(
    ns: HallSettings, bus: Bus, tmp_path: Path
) -> None:
    clock = ManualClock(local("2026-12-28 10:00"))
    first, second = await running(ns, clock), await running(ns, clock)
    try:
        # 900 clocks started 12-28 10:00 with 1–9 WD (deadlines 12-29 … 2027-01-11), 100 started 11-02 with
        # 1–5 WD whose every time lies in November (unaffected).
        affected = {f"a{n:04d}": 1 + n % 9 for n in range(900)}
        unaffected = {f"u{n:04d}": 1 + n % 5 for n in range(100)}
        for clock_id, days in [*affected.items(), *unaffected.items()]:
            starts = "2026-12-28 10:00" if clock_id.startswith("a") else "2026-11-02 10:00"
            await bus.send(
                topics.EVALUATION_EVENTS,
                "ClockRequested",
                clock_id,
                {
                    "clock_id": clock_id,
                    "purpose": "整改",
                    "case_no": clock_id,
                    "starts_at": local(starts).isoformat(),
                    "limit": {"value": days, "unit": "WD"},
                },
            )
        started = await bus.wait("ClockStarted", 1000, timeout_s=90)
        provisional = {s["clock_id"] for s in started if s["provisional"]}
        assert provisional == {k for k, d in affected.items() if d >= 4}  # 4 WD and more end in 2027

        clock.set(local("2027-01-05 10:00"))  # 4 and 5 WD are 预警 (due 01-04/01-05 under the provisional 2027)
        await bus.wait("ClockAlerted", timeout_s=60, clock_id="a0003", level="逾期")  # 4 WD: 01-04 17:30
        await bus.wait("ClockAlerted", timeout_s=60, clock_id="a0004", level="预警")  # 5 WD: 01-05 17:30
        await asyncio.sleep(2.0)
        before = Counter((a["clock_id"], a["level"]) for a in bus.of("ClockAlerted"))
        assert max(before.values()) == 1

        year_file = tmp_path / "2027.toml"
        year_file.write_text(OFFICIAL_2027, encoding="utf-8")
        await load(ns, bus, year_file)
        # Every clock whose times touch 2027 (the 1–3 WD ones through their 督办 and 通报 levels), none other.
        touching = await bus.wait("DeadlineRevised", 900, timeout_s=90)
        await asyncio.sleep(2.0)
        revised = Counter(r["clock_id"] for r in bus.of("DeadlineRevised"))
        assert set(revised) == set(affected)
        assert set(revised.values()) == {1}
        assert len(touching) == 900

        by_id = {r["clock_id"]: r for r in bus.of("DeadlineRevised")}
        official = WorkingCalendar(load_halls().policy("hall").sessions, Years([read_year_file(year_file)]))
        for clock_id, days in affected.items():
            r = by_id[clock_id]
            assert r["promised_deadline"] == official.deadline(local("2026-12-28 10:00"), days, "WD").isoformat()
            assert r["provisional"] is False
        # 4 WD: provisionally 01-04 17:30 (逾期 now), officially 01-06 17:30 (01-04, 01-05 off): 预警 at most.
        four = by_id["a0003"]
        assert (four["old_promised_deadline"], four["promised_deadline"]) == (
            local("2027-01-04 17:30").isoformat(),
            local("2027-01-06 17:30").isoformat(),
        )
        assert (four["status_before"], four["status_after"]) == ("逾期", "正常")
        assert set(four["retracted"]) == {"预警", "逾期"}
        # 9 WD: 01-11 provisionally; officially two days later for 01-04 and 01-05 off, one earlier for the
        # worked Saturday 01-09: 01-12.
        assert by_id["a0008"]["old_promised_deadline"] == local("2027-01-11 17:30").isoformat()
        assert by_id["a0008"]["promised_deadline"] == local("2027-01-12 17:30").isoformat()

        # Alerts: none raised twice; a retracted level fires again, once, when it is due under the new dates.
        clock.set(local("2027-01-07 10:00"))
        await bus.wait("ClockAlerted", 2, timeout_s=60, clock_id="a0003", level="逾期")
        await asyncio.sleep(2.0)
        after = Counter((a["clock_id"], a["level"]) for a in bus.of("ClockAlerted"))
        assert after[("a0003", "逾期")] == 2
        assert after[("a0003", "预警")] == 2
        assert all(n == 1 for (clock_id, _), n in after.items() if not clock_id.startswith("a"))
        assert max(after.values()) <= 2

        # Loading the same year again changes nothing.
        await load(ns, bus, year_file)
        await asyncio.sleep(3.0)
        assert len(bus.of("DeadlineRevised")) == 900
    finally:
        await halt(first)
        await halt(second)


async def test_a_clock_an_older_version_refused_is_computed_when_timing_starts(ns: HallSettings, bus: Bus) -> None:
    """Before provisional years, a 2027 deadline was refused (ClockRefused and a refusal mark in Redis) and the
    case's later events changed nothing; the next start of timing computes its clocks."""
    clock = ManualClock(local("2026-12-30 10:00"))
    case_id = uuid.uuid4().hex
    redis = Redis.from_url(ns.redis_url)
    keys = Keys(ns)
    old = {"case_no": "N9", "reason": "工作日历缺少 2027 年的节假日安排", "year": 2027, "clock_id": case_id}
    timing = await running(ns, clock)
    await asyncio.sleep(2.0)  # its start-up work is done: what follows is the old version's doing
    await redis.set(keys.refused(case_id), str(old["reason"]))
    await bus.send(topics.TIMING_EVENTS, "ClockRefused", case_id, old)
    try:
        await bus.send(
            topics.INTAKE_EVENTS,
            "CaseAccepted",
            case_id,
            accepted("N9", "2026-12-30 10:00", {"value": 3, "unit": "WD"}),
        )
        step = {
            "case_no": "N9",
            "step_id": f"{case_id}:s1",
            "step_name": "承办",
            "department": "自然资源局",
            "limit": {"value": 1.5, "unit": "WD"},
            "opened_at": local("2026-12-30 11:00").isoformat(),
        }
        await bus.send(topics.ROUTING_EVENTS, "StepOpened", case_id, step)
        await asyncio.sleep(3.0)
        assert bus.of("ClockStarted", clock_id=case_id) == []  # the old refusal holds while this instance runs
    finally:
        await halt(timing)
    timing = await running(ns, clock)
    try:
        (case_clock,) = await bus.wait("ClockStarted", timeout_s=30, clock_id=case_id)
        assert case_clock["promised_deadline"] == local("2027-01-05 17:30").isoformat()
        assert case_clock["provisional"] is True
        (step_clock,) = await bus.wait("ClockStarted", timeout_s=30, clock_id=f"{case_id}:s1")
        # 1.5 WD from 12-30 11:00: a whole day to 12-31 17:30, then half a day into 2027-01-04 (元旦 off).
        assert step_clock["promised_deadline"] == local("2027-01-04 14:00").isoformat()
        assert await redis.get(keys.refused(case_id)) is None
    finally:
        await halt(timing)
    timing = await running(ns, clock)  # a second start heals nothing again
    try:
        await asyncio.sleep(3.0)
        assert len(bus.of("ClockStarted", clock_id=case_id)) == 1
    finally:
        await halt(timing)
        await redis.aclose()
