"""The SLA board's per-day counters (its trend charts) on the real Redis.

Clocks of two departments and two purposes start, become 逾期 (timing's alert, some redelivered under a new
event id, some for a later deadline after an extension) and stop on time, late or as 退件, over 40 days, through
the board's own handlers. The last 30 days the board answers (by the hall's ManualClock, not the wall clock) equal
the counts the test kept, for 全部 and each department and purpose; days before the window are not in it. Then
the counters are wiped and built once from the stored clocks: the same.
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any, cast

import msgspec
import pytest
from redis.asyncio import Redis

from services.gateway import paging
from services.gateway.sla.api import trend
from services.gateway.sla.board import SlaBoard
from services.timing import messages as timing
from shared.clock import ManualClock
from shared.localtime import LOCAL
from shared.settings import HallSettings
from tests.integration.test_sla_counts import Fed

pytestmark = pytest.mark.integration

TODAY = datetime(2027, 5, 31, 15, 0, tzinfo=LOCAL)
DEPARTMENTS = ("自然资源局", "税务局")
PURPOSES = ("办件", "子件", "环节")
CLOCKS = 80
# A database of its own on the shared Redis: the build scans the keyspace for clocks, once per namespace kept
# before the counters; here that keyspace is the test's, not every other test's keys.
DB = 7
SVG = "{http://www.w3.org/2000/svg}"


def bar_titles(markup: str) -> list[str]:
    svg = ET.fromstring(markup).find(f"{SVG}svg")  # noqa: S314 - our own markup
    assert svg is not None
    return [t.findtext(f"{SVG}title") or "" for t in svg.iter() if t.tag in (f"{SVG}circle", f"{SVG}rect")]


def group(purpose: str) -> str:
    return "办件" if purpose in ("办件", "子件") else purpose


async def test_the_board_counts_each_day_on_time_late_and_overdue(settings: HallSettings) -> None:
    ours = msgspec.structs.replace(settings, namespace=f"{settings.namespace}sd")
    clock = ManualClock(TODAY)
    sla = SlaBoard(ours, clock)
    redis = Redis.from_url(ours.redis_url, db=DB)
    rng = random.Random(30)
    expected: Counter[tuple[date, str, str, str]] = Counter()  # (day, purpose group, department, kind)

    def count(day: datetime, purpose: str, department: str, kind: str) -> None:
        for g in ("", group(purpose)):
            for d in ("", department):
                expected[(day.astimezone(LOCAL).date(), g, d, kind)] += 1

    try:
        await redis.set(ours.key("gateway", "built-index", "sla-daily"), "1")  # a fresh namespace: counted live
        fed = Fed(sla, redis, ours)
        for n in range(CLOCKS):
            purpose, department = rng.choice(PURPOSES), rng.choice(DEPARTMENTS)
            ids: dict[str, Any] = {"clock_id": f"k{n}", "purpose": purpose, "case_no": f"N{n}"}
            case = f"c{n}"
            start = TODAY - timedelta(days=rng.randint(5, 45), hours=rng.randint(0, 5))
            deadline = start + timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 20))
            await fed(
                timing.ClockStarted(
                    **ids,
                    department=department,
                    item_name="查封登记",
                    owner_name="张敏",
                    started_at=start,
                    promised_deadline=deadline,
                    statutory_deadline=None,
                    warning_at=None,
                ),
                case,
            )
            late = rng.random() < 0.5
            if late:
                alert = timing.ClockAlerted(**ids, level="逾期", deadline=deadline, due_at=deadline, fired_at=deadline)
                await fed(alert, case)
                count(deadline, purpose, department, "overdue")
                if rng.random() < 0.3:
                    await fed(alert, case)  # redelivered under a new event id: counted once
                if rng.random() < 0.2:  # extended, then 逾期 again for the new deadline: a second day
                    deadline += timedelta(days=2)
                    await fed(
                        timing.ClockExtended(
                            **ids,
                            limit=timing.LimitOut(value=2, unit="WD"),
                            extended_at=deadline,
                            promised_deadline=deadline,
                            warning_at=None,
                        ),
                        case,
                    )
                    again = timing.ClockAlerted(
                        **ids, level="逾期", deadline=deadline, due_at=deadline, fired_at=deadline
                    )
                    await fed(again, case)
                    count(deadline, purpose, department, "overdue")
            if rng.random() < 0.8:
                stop = deadline + timedelta(hours=5) if late else deadline - timedelta(hours=rng.randint(1, 20))
                outcome = "退件" if rng.random() < 0.15 else ""
                await fed(
                    timing.ClockStopped(
                        **ids, stopped_at=stop, promised_deadline=deadline, on_time=not late, outcome=outcome
                    ),
                    case,
                )
                if not outcome:
                    count(stop, purpose, department, "late" if late else "on")

        async def agree() -> int:
            checked = 0
            for g in ("", "办件", "环节"):
                for d in ("", *DEPARTMENTS):
                    days = await sla.daily(redis, g, d)
                    assert [x.day for x in days] == [TODAY.date() - timedelta(days=29 - i) for i in range(30)]
                    for x in days:
                        assert (x.on_time, x.late, x.overdue) == (
                            expected[(x.day, g, d, "on")],
                            expected[(x.day, g, d, "late")],
                            expected[(x.day, g, d, "overdue")],
                        ), (x.day, g, d)
                        checked += x.on_time + x.late + x.overdue
            return checked

        checked = await agree()
        window = await sla.daily(redis, "", "")
        assert sum(d.overdue for d in window) > 10
        assert sum(d.late for d in window) > 10
        assert sum(d.on_time for d in window) > 10
        # The board page's charts draw these days: a bar per day titled with its 逾期, a point per day with a rate.
        drawn = trend(await sla.daily(redis, "办件", DEPARTMENTS[0]), "办件", DEPARTMENTS[0])
        mine = await sla.daily(redis, "办件", DEPARTMENTS[0])
        assert bar_titles(drawn["overdue"]) == [f"{d.day:%m-%d}：{d.overdue} 件" for d in mine]
        assert bar_titles(drawn["rate"]) == [f"{d.day:%m-%d}：{d.rate * 100:.1f} %" for d in mine if d.rate is not None]
        assert DEPARTMENTS[0] in drawn["rate"]
        older = sum(v for (day, g, d, _), v in expected.items() if day < window[0].day and not g and not d)
        assert older > 0  # some counts fell before the 30 days and are left out
        # A namespace kept before the counters (no counters, clocks without their marks): built once, the same.
        keys = [k async for k in redis.scan_iter(match=sla.key("daily", "*"), count=10000)]
        await redis.delete(*keys)
        for n in range(CLOCKS):
            raw = cast("bytes | None", await redis.get(sla.key("clock", f"k{n}")))
            assert raw is not None
            await redis.set(sla.key("clock", f"k{n}"), raw.replace(b'"daily":', b'"unknown":'))
        await sla.ensure_daily(redis)  # marked built: nothing happens …
        assert sum(d.overdue for d in await sla.daily(redis, "", "")) == 0
        await redis.delete(ours.key("gateway", "built-index", "sla-daily"))
        paging._BUILT.discard(ours.key("gateway", "built-index", "sla-daily"))
        assert await agree() == checked  # … until the marker is gone: then built from the clocks
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{ours.namespace}:*", count=10000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
