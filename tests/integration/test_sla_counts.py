"""The SLA board's counts from their indexes on the real Redis agree with counting every clock entry.

Two hundred random events (starts, pauses, resumes, extensions, alerts, revisions, stops) go through the board's
own handlers onto Redis; at moments before, inside and after the clocks' warning times, every filter's counts read
from the indexes (:mod:`services.gateway.sla.counts`, what the API answers) equal :func:`board` over every entry
(the reference: each running clock's status derived one by one), as do the 暂定 years of the banner.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest
from redis.asyncio import Redis

from services.gateway.paging import INDEX_GENERATION, ensure_index, rebuilt_marker
from services.gateway.sla.board import SlaBoard, board
from services.timing import messages as timing
from shared.clock import ManualClock
from shared.contracts import Publications
from shared.envelope import Actor, wrap
from shared.localtime import LOCAL
from shared.outbox import Txn, run_once
from shared.settings import HallSettings

pytestmark = pytest.mark.integration

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=LOCAL)
HOUR = timedelta(hours=1)
PURPOSES = ("办件", "子件", "环节", "评价期", "整改")
DEPARTMENTS = ("自然资源局", "税务局", "")
ITEMS = ("查封登记", "抵押登记", "")
CLERKS = ("张敏", "王磊", "")
TIMING = Actor(kind="system", id="timing", name="计时服务")


class Fed:
    """The board's handlers run on the real Redis as the gateway's consumer runs them: once per event, its writes
    in one MULTI (:func:`shared.outbox.run_once`)."""

    def __init__(self, sla: SlaBoard, redis: Redis, settings: HallSettings) -> None:
        self.sla, self.redis, self.settings = sla, redis, settings
        self.table = sla.table()
        self.publications = Publications(settings, "test")

    async def __call__(self, payload: msgspec.Struct, case_id: str) -> None:
        env = wrap(payload, case_id=case_id, actor=TIMING)
        route = self.table[env.type]
        payload_view = msgspec.json.decode(env.payload, type=route.payload)

        async def handle(txn: Txn) -> None:
            await route.handler(env, payload_view, txn)

        marker = self.settings.key("gateway", "done", env.event_id)
        await run_once(self.redis, marker, env, handle, self.publications)


def limit() -> timing.LimitOut:
    return timing.LimitOut(value=5, unit="WD")


async def started(fed: Fed, rng: random.Random, clocks: int) -> dict[str, dict[str, Any]]:
    """``clocks`` clocks started; what the test keeps of each running one, by clock id."""
    live: dict[str, dict[str, Any]] = {}
    for n in range(clocks):
        deadline = T0 + timedelta(hours=rng.randint(-50, 60), minutes=rng.randint(0, 59))
        warning = deadline - timedelta(hours=rng.randint(1, 20)) if rng.random() < 0.8 else None
        years = [2028] if rng.random() < 0.2 else []
        clock = {"clock_id": f"k{n}", "purpose": rng.choice(PURPOSES), "case_no": f"N{n}"}
        await fed(
            timing.ClockStarted(
                clock_id=clock["clock_id"],
                purpose=clock["purpose"],
                case_no=clock["case_no"],
                department=rng.choice(DEPARTMENTS),
                item_name=rng.choice(ITEMS),
                owner_name=rng.choice(CLERKS),
                started_at=T0 - timedelta(days=4),
                promised_deadline=deadline,
                statutory_deadline=None,
                warning_at=warning,
                provisional=bool(years),
                provisional_years=years,
            ),
            f"c{n}",
        )
        live[f"k{n}"] = {**clock, "deadline": deadline, "paused": False}
    return live


async def moved(fed: Fed, rng: random.Random, live: dict[str, dict[str, Any]], events: int) -> None:
    """``events`` random pauses, resumes, extensions, alerts, revisions and stops of running clocks."""
    for _ in range(events):
        clock_id = rng.choice(sorted(live))
        facts = live[clock_id]
        ids = {k: facts[k] for k in ("clock_id", "purpose", "case_no")}
        case = f"c{clock_id[1:]}"
        kind = rng.choice(("pause", "resume", "extend", "alert", "revise", "stop"))
        at = T0 - timedelta(hours=rng.randint(31, 48))  # before every moment the board is read at
        if kind == "pause" and not facts["paused"]:
            await fed(timing.ClockPaused(**ids, pause_id="p", reason="特别程序", paused_at=at), case)
            facts["paused"] = True
        elif kind == "resume" and facts["paused"]:
            facts["deadline"] += timedelta(hours=rng.randint(1, 30))
            await fed(
                timing.ClockResumed(
                    **ids, pause_id="p", resumed_at=at, promised_deadline=facts["deadline"], warning_at=None
                ),
                case,
            )
            facts["paused"] = False
        elif kind == "extend":
            facts["deadline"] += timedelta(hours=rng.randint(1, 30))
            warning = facts["deadline"] - 4 * HOUR
            await fed(
                timing.ClockExtended(
                    **ids, limit=limit(), extended_at=at, promised_deadline=facts["deadline"], warning_at=warning
                ),
                case,
            )
        elif kind == "alert":
            level = rng.choice(("预警", "逾期", "督办"))
            await fed(timing.ClockAlerted(**ids, level=level, deadline=facts["deadline"], due_at=at, fired_at=at), case)
        elif kind == "revise":
            old, facts["deadline"] = facts["deadline"], facts["deadline"] - timedelta(hours=rng.randint(-5, 5))
            still = rng.random() < 0.3
            await fed(
                timing.DeadlineRevised(
                    **ids,
                    year=2030,  # loaded by the revision; 2028 stays without a schedule
                    old_promised_deadline=old,
                    promised_deadline=facts["deadline"],
                    warning_at=facts["deadline"] - 2 * HOUR,
                    retracted=["逾期"] if rng.random() < 0.5 else [],
                    provisional=still,
                    provisional_years=[2029] if still else [],
                    revised_at=at,
                ),
                case,
            )
        elif kind == "stop":
            outcome = "退件" if rng.random() < 0.2 else ""
            await fed(
                timing.ClockStopped(
                    **ids, stopped_at=at, promised_deadline=facts["deadline"], on_time=True, outcome=outcome
                ),
                case,
            )
            del live[clock_id]


def names(counts: list[Any]) -> list[tuple[str, int, int, int, int]]:
    return [(c.name, c.normal, c.warning, c.overdue, c.paused) for c in counts]


@pytest.mark.parametrize("seed", [7, 2027])
async def test_the_indexed_counts_equal_counting_every_clock(settings: HallSettings, seed: int) -> None:
    ours = msgspec.structs.replace(settings, namespace=f"{settings.namespace}cnt{seed}")
    clock = ManualClock(T0)
    sla = SlaBoard(ours, clock)
    redis = Redis.from_url(ours.redis_url)
    try:
        fed = Fed(sla, redis, ours)
        rng = random.Random(seed)
        live = await started(fed, rng, clocks=70)
        await redis.sadd(sla.key("loaded"), "2029")  # 2029's schedule is loaded: never named 暂定
        bannered = await agree(sla, redis)
        # Then clocks move, pause, stop and get alerts after the lists were read (and 预警 promoted) at every moment.
        await moved(fed, rng, live, events=140)
        bannered += await agree(sla, redis)
        # Something was counted in every status at some moment, so the comparisons could fail.
        clock.set(T0)
        final = await sla.view(redis, "", "")
        assert final.totals.overdue
        assert final.totals.paused
        assert final.warnings_total
        assert bannered  # some filters rest on 2028, whose schedule is not loaded
        assert final.banner
    finally:
        await redis.aclose()


async def agree(sla: SlaBoard, redis: Redis) -> int:
    """At moments before, inside and after the warning times, every filter's counts and lists (paged through)
    equal the reference's; returns how many views named 暂定 years."""
    entries = await sla.running(redis)
    assert len(entries) > 20  # enough running clocks to count
    loaded = [int(y) for y in await redis.smembers(sla.key("loaded"))]  # 2029, and 2030 by the revisions
    bannered = 0
    for now in (T0 - 30 * HOUR, T0 - 5 * HOUR, T0, T0 + 7 * HOUR + timedelta(minutes=13), T0 + 3 * 24 * HOUR):
        sla.clock.set(now)  # type: ignore[attr-defined]
        for purpose in ("办件", "", "环节", "评价期"):
            for department in ("", "自然资源局", "税务局"):
                view = await sla.view(redis, purpose, department, limit=1)
                expected = board(entries, {}, now, purpose, department, loaded=loaded)
                where = f"at {now:%m-%d %H:%M}, purpose {purpose or '全部'}, department {department or '全部'}"
                assert names([view.totals]) == names([expected.totals]), where
                assert names(view.by_department) == names(expected.by_department), where
                assert names(view.by_item) == names(expected.by_item), where
                assert names(view.by_clerk) == names(expected.by_clerk), where
                assert view.provisional_years == expected.provisional_years, where
                bannered += bool(view.provisional_years)
                for name, rows in (("overdue", expected.overdue), ("warnings", expected.warnings)):
                    listed = await every_row(sla, redis, name, purpose, department)
                    assert listed == [r.clock_id for r in rows], f"{name} {where}"
                closest = await every_row(sla, redis, "closest", purpose, department)
                assert closest[:10] == [r.clock_id for r in expected.closest], f"closest {where}"
    return bannered


async def every_row(sla: SlaBoard, redis: Redis, name: str, purpose: str, department: str) -> list[str]:
    """A list paged through three rows at a time, as its clock ids."""
    found: list[str] = []
    cursor = ""
    while True:
        page = await sla.page(redis, name, purpose, department, limit=3, cursor=cursor)
        found += [r.clock_id for r in page.rows]
        if not page.next_cursor:
            return found
        cursor = page.next_cursor


async def test_indexes_are_built_once_unless_a_rebuild_by_this_code_wrote_them(settings: HallSettings) -> None:
    ours = msgspec.structs.replace(settings, namespace=f"{settings.namespace}ix")
    marker = ours.key("gateway", "built-index", "sla-counts")
    built: list[str] = []

    async def build() -> None:
        built.append("built")

    redis = Redis.from_url(ours.redis_url)
    try:
        # Rebuilt by code of an older generation: the index it lacked is built once, then never again.
        await redis.set(rebuilt_marker(marker), "1")
        await ensure_index(redis, marker, build)
        await ensure_index(redis, marker, build)
        assert built == ["built"]
        # Rebuilt by this code (services/gateway/rebuild.py sets the generation): every index is there already.
        other = ours.key("gateway", "built-index", "another")
        await redis.set(rebuilt_marker(other), INDEX_GENERATION)
        await ensure_index(redis, other, build)
        assert built == ["built"]
        assert not await redis.exists(other)  # nothing built, nothing marked
    finally:
        await redis.aclose()
