"""One SLA status (issue 15, item 3): shared/sla.py's rule over a clock's facts, used by timing, the workbench and
the SLA board alike; remaining time in working days of the hall's calendar; the board's lists paged by deadline.

The workbench and the board are fed the same events (timing's and routing's own payloads, in memory) and must say
the same of the same step at every moment — before this change the workbench ignored when a clock was paused.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import msgspec
import pytest

import services.gateway.app  # noqa: F401  (the gateway's feature packages import one another: load them in order)
from services.gateway.sla.board import Alert, Entry, SlaBoard, decode_cursor, row, status
from services.gateway.sla.calendar import HallCalendars
from services.gateway.steps.workbench import Workbench
from services.timing import clocks
from services.timing import messages as timing
from shared.calendar import Limit, WorkingCalendar
from shared.clock import ManualClock
from shared.halls import HallPolicy
from shared.localtime import LOCAL
from shared.settings import load_settings
from shared.sla import remaining, remaining_text, sla_status
from tests.provisional_events import CASE_ID, CASE_NO, STEP_ID, step_opened
from tests.unit.readmodels import Feed, MemoryRedis

SETTINGS = load_settings({})
DEADLINE = datetime(2026, 12, 4, 17, 30, tzinfo=LOCAL)  # a Friday
WARNING = datetime(2026, 12, 3, 17, 30, tzinfo=LOCAL)
HOUR = timedelta(hours=1)


# ---------------------------------------------------------------- the one rule


@pytest.mark.parametrize(
    ("case", "now", "facts", "expected"),
    [
        ("running, before the warning time", WARNING - HOUR, {}, ("正常", "")),
        ("running, at the warning time", WARNING, {}, ("预警", "")),
        ("running, at the deadline", DEADLINE, {}, ("逾期", "")),
        ("paused before the warning time", DEADLINE + 30 * HOUR, {"paused_at": WARNING - HOUR}, ("正常", "")),
        ("paused after the warning time", DEADLINE + 30 * HOUR, {"paused_at": WARNING + HOUR}, ("预警", "")),
        ("paused after the deadline", DEADLINE + 30 * HOUR, {"paused_at": DEADLINE + HOUR}, ("逾期", "")),
        ("stopped before the warning time", DEADLINE + 30 * HOUR, {"stopped_at": WARNING - HOUR}, ("正常", "")),
        ("stopped in the warning time", DEADLINE + 30 * HOUR, {"stopped_at": WARNING + HOUR}, ("预警", "")),
        ("退件 is never overdue", DEADLINE + 30 * HOUR, {"outcome": "退件", "alerts": ["逾期"]}, ("正常", "")),
        ("timing's 预警 with our clock behind", WARNING - 5 * HOUR, {"alerts": ["预警"]}, ("预警", "")),
        ("timing's 逾期 with our clock behind", WARNING - 5 * HOUR, {"alerts": ["预警", "逾期"]}, ("逾期", "")),
        ("escalation: the last level", WARNING, {"alerts": ["预警", "逾期", "督办", "通报"]}, ("逾期", "通报")),
        ("an escalation alone is overdue", WARNING - HOUR, {"alerts": ["督办"]}, ("逾期", "督办")),
        ("paused, moment unknown: alerts only", DEADLINE + HOUR, {"paused": True}, ("正常", "")),
        ("paused, moment unknown, 预警 raised", DEADLINE + HOUR, {"paused": True, "alerts": ["预警"]}, ("预警", "")),
        ("no deadline yet", DEADLINE + HOUR, {"deadline": None, "warning_at": None}, ("正常", "")),
    ],
)
def test_the_status_of_a_clock(case: str, now: datetime, facts: dict[str, Any], expected: tuple[str, str]) -> None:
    deadline = facts.pop("deadline", DEADLINE)
    warning_at = facts.pop("warning_at", WARNING)
    assert sla_status(deadline, warning_at, now, **facts) == expected, case


def entry(**changes: Any) -> Entry:
    fields: dict[str, Any] = {
        "clock_id": "k1",
        "purpose": "办件",
        "case_id": "c1",
        "case_no": "N1",
        "department": "自然资源局",
        "started_at": DEADLINE - timedelta(days=10),
        "deadline": DEADLINE,
        "warning_at": WARNING,
    }
    fields.update(changes)
    return Entry(**fields)


def test_a_provisional_deadline_gets_the_same_status_and_only_current_alerts_count() -> None:
    now = WARNING + HOUR
    assert status(entry(provisional=True, provisional_years=[2027]), now) == status(entry(), now) == ("预警", "")
    # 逾期 raised for a deadline an extension has since moved: not the current deadline's, so it does not count.
    stale = entry(deadline=DEADLINE + timedelta(days=7), alerts=[Alert("逾期", DEADLINE)])
    assert status(stale, now) == ("预警", "")


def test_timings_own_status_is_the_same_rule() -> None:
    policy = HallPolicy(code="default")
    cal = WorkingCalendar()
    pause = datetime(2026, 12, 4, 10, 0, tzinfo=LOCAL)  # an hour into the warning time (1 WD before 17:30)
    clock = clocks.ClockState(
        clock_id="k1",
        purpose="办件",
        case_id="c1",
        case_no="N1",
        started_at=DEADLINE - timedelta(days=10),
        promised=Limit(5, "WD"),
        base_promised=DEADLINE,
        promised_deadline=DEADLINE,
        pauses=[clocks.Pause(pause_id="p", reason="特别程序", start=pause)],
    )
    warning_at = clocks.warning_at(clock, cal, policy)
    assert warning_at == pause - HOUR
    later = DEADLINE + timedelta(days=3)
    assert clocks.status(clock, later, cal, policy) == "预警"  # time stood still at the pause, past the warning
    assert clocks.status(clock, later, cal, policy) == sla_status(DEADLINE, warning_at, later, paused_at=pause)[0]


# ---------------------------------------------------------------- remaining working time


def test_remaining_time_is_working_time_across_a_weekend() -> None:
    cal = WorkingCalendar()  # 09:00-12:00, 13:30-17:30: seven office hours a day
    friday_evening = datetime(2026, 11, 27, 17, 30, tzinfo=LOCAL)
    monday_evening = datetime(2026, 11, 30, 17, 30, tzinfo=LOCAL)
    assert remaining(monday_evening, friday_evening, cal) == pytest.approx(1.0)  # three natural days
    late = remaining(friday_evening, datetime(2026, 11, 30, 12, 0, tzinfo=LOCAL), cal)
    assert late == pytest.approx(-3 / 7)
    assert remaining_text(1.5) == "剩余 1.5 个工作日"
    assert remaining_text(late, "逾期") == "已超期 0.4 个工作日"
    assert remaining_text(0.5, "逾期") == "已超期"  # timing said 逾期 while this process's clock is behind
    assert remaining_text(0.01) == "剩余不足 0.1 个工作日"


async def test_the_board_reckons_remaining_time_with_a_loaded_years_local_holiday_and_its_own_clock() -> None:
    friday_evening = datetime(2026, 11, 27, 17, 30, tzinfo=LOCAL)
    tuesday_evening = datetime(2026, 12, 1, 17, 30, tzinfo=LOCAL)
    board = SlaBoard(SETTINGS, ManualClock(friday_evening))
    feed = Feed(board.table(), SETTINGS)
    await feed(clock_started(clock_id=CASE_ID, deadline=tuesday_evening, warning_at=None), CASE_ID)
    (first,) = (await board.view(feed.reads)).closest
    assert first.remaining_days == pytest.approx(2.0)
    assert first.remaining == "剩余 2.0 个工作日"
    # An operator loads 2026 with Monday 11-30 a local holiday: one working day is left.
    await feed(timing.CalendarLoaded(year=2026, local_holidays=[date(2026, 11, 30)]), "calendar-2026")
    (row_now,) = (await board.view(feed.reads)).closest
    assert row_now.remaining_days == pytest.approx(1.0)
    assert row_now.remaining == "剩余 1.0 个工作日"
    assert HallCalendars().calendar({}).day_seconds == 7 * 3600


# ---------------------------------------------------------------- the workbench and the board agree


def clock_started(
    *, clock_id: str, deadline: datetime, warning_at: datetime | None, **more: Any
) -> timing.ClockStarted:
    return timing.ClockStarted(
        case_no=CASE_NO,
        clock_id=clock_id,
        purpose=more.pop("purpose", "环节" if clock_id == STEP_ID else "办件"),
        step_id=STEP_ID if clock_id == STEP_ID else "",
        department="自然资源局",
        item_name="查封登记",
        started_at=DEADLINE - timedelta(days=10),
        promised_deadline=deadline,
        statutory_deadline=None,
        warning_at=warning_at,
        **more,
    )


async def test_the_workbench_and_the_board_say_the_same_of_the_same_step_at_every_moment() -> None:
    clock = ManualClock(WARNING - 5 * HOUR)
    redis = MemoryRedis()
    workbench, board = Workbench(SETTINGS, clock), SlaBoard(SETTINGS, clock)
    feeds = [Feed(workbench.table(), SETTINGS, redis), Feed(board.table(), SETTINGS, redis)]

    async def both(payload: msgspec.Struct) -> None:
        for feed in feeds:
            await feed(payload, CASE_ID)

    async def statuses() -> tuple[str, str]:
        (view,) = await workbench.open_steps(feeds[0].reads, "自然资源局")
        (on_board,) = (await board.case(feeds[1].reads, CASE_ID, CASE_NO)).clocks
        assert view.remaining == on_board.remaining  # the same working time left, in the same words
        return view.sla, on_board.status

    await both(step_opened())
    await both(clock_started(clock_id=STEP_ID, deadline=DEADLINE, warning_at=WARNING))
    assert await statuses() == ("正常", "正常")
    clock.set(WARNING + HOUR)
    assert await statuses() == ("预警", "预警")
    # 特别程序 from the warning time on: the clock stands still there, whatever the wall clock says later.
    paused = WARNING + 2 * HOUR
    await both(
        timing.ClockPaused(
            clock_id=STEP_ID,
            purpose="环节",
            case_no=CASE_NO,
            step_id=STEP_ID,
            pause_id="p",
            reason="特别程序",
            paused_at=paused,
        )
    )
    clock.set(DEADLINE + timedelta(days=2))
    assert await statuses() == ("预警", "预警")  # the workbench said 正常 here: a pause hid the warning time
    # Resumed: the deadline moved by the paused time; timing (ahead of us) has already raised 逾期 for it.
    moved = DEADLINE + timedelta(days=5)
    await both(
        timing.ClockResumed(
            clock_id=STEP_ID,
            purpose="环节",
            case_no=CASE_NO,
            step_id=STEP_ID,
            pause_id="p",
            resumed_at=DEADLINE + timedelta(days=2),
            promised_deadline=moved,
            warning_at=moved - timedelta(days=1),
        )
    )
    assert await statuses() == ("正常", "正常")
    await both(
        timing.ClockAlerted(
            clock_id=STEP_ID,
            purpose="环节",
            case_no=CASE_NO,
            step_id=STEP_ID,
            level="逾期",
            deadline=moved,
            due_at=moved,
            fired_at=moved,
        )
    )
    assert await statuses() == ("逾期", "逾期")


# ---------------------------------------------------------------- the board's lists, paged


async def test_the_boards_lists_page_by_deadline_with_totals_and_an_opaque_cursor() -> None:
    now = WARNING + HOUR
    board = SlaBoard(SETTINGS, ManualClock(now))
    feed = Feed(board.table(), SETTINGS)
    # Seven overdue (two sharing a deadline), three in their warning time, one paused in it, two far off.
    for n in range(7):
        deadline = now - timedelta(hours=1 + n // 2 * 2) if n else now - HOUR
        await feed(clock_started(clock_id=f"late-{n}", deadline=deadline, warning_at=deadline - HOUR), f"c-late-{n}")
    for n in range(3):
        deadline = DEADLINE + n * HOUR
        await feed(clock_started(clock_id=f"warn-{n}", deadline=deadline, warning_at=WARNING), f"c-warn-{n}")
    await feed(clock_started(clock_id="held", deadline=DEADLINE, warning_at=WARNING), "c-held")
    await feed(
        timing.ClockPaused(
            clock_id="held", purpose="办件", case_no=CASE_NO, pause_id="p", reason="特别程序", paused_at=now
        ),
        "c-held",
    )
    for n in range(2):
        far = DEADLINE + timedelta(days=10 + n)
        await feed(clock_started(clock_id=f"far-{n}", deadline=far, warning_at=far - timedelta(days=1)), f"c-far-{n}")
    # timing, ahead of us, already raised 逾期 for one far clock: it is overdue, and no longer "closest".
    await feed(
        timing.ClockAlerted(
            clock_id="far-1",
            purpose="办件",
            case_no=CASE_NO,
            level="逾期",
            deadline=DEADLINE + timedelta(days=11),
            due_at=now,
            fired_at=now,
        ),
        "c-far-1",
    )

    seen: list[str] = []
    cursor, pages = "", 0
    while True:
        page = await board.page(feed.reads, "overdue", limit=3, cursor=cursor)
        assert page.total == 8
        seen += [r.clock_id for r in page.rows]
        pages += 1
        if page.next_cursor is None:
            break
        decode_cursor(page.next_cursor)
        cursor = page.next_cursor
    expected = sorted(
        [e for e in await board.running(feed.reads) if status(e, now)[0] == "逾期"],
        key=lambda e: (e.deadline, e.clock_id),
    )
    assert seen == [e.clock_id for e in expected]
    assert (len(seen), pages) == (8, 3)
    assert seen[-1] == "far-1"

    warnings = await board.page(feed.reads, "warnings", limit=10)
    assert ([r.clock_id for r in warnings.rows], warnings.total) == (["held", "warn-0", "warn-1", "warn-2"], 4)
    closest = await board.page(feed.reads, "closest", limit=2)
    assert ([r.clock_id for r in closest.rows], closest.total) == (["warn-0", "warn-1"], 4)
    rest = await board.page(feed.reads, "closest", limit=2, cursor=closest.next_cursor or "")
    assert ([r.clock_id for r in rest.rows], rest.next_cursor) == (["warn-2", "far-0"], None)
    view = await board.view(feed.reads, limit=2)
    assert (view.overdue_total, view.warnings_total, view.closest_total) == (8, 4, 4)
    assert (len(view.overdue), view.overdue_next is not None) == (2, True)
    assert (view.totals.overdue, view.totals.warning) == (8, 4)  # the counts agree with the lists

    # Stopping a clock takes it off every list.
    await feed(
        timing.ClockStopped(
            case_no=CASE_NO,
            clock_id="warn-0",
            purpose="办件",
            stopped_at=now,
            promised_deadline=DEADLINE,
            on_time=True,
            reason="办结",
        ),
        "c-warn-0",
    )
    assert (await board.page(feed.reads, "warnings")).total == 3
    with pytest.raises(ValueError, match="cursor 无效"):
        await board.page(feed.reads, "overdue", cursor="bm90LWEtY3Vyc29y")


def test_a_row_under_a_manual_clock_counts_from_that_clock() -> None:
    friday = datetime(2026, 11, 27, 17, 30, tzinfo=LOCAL)
    r = row(entry(deadline=friday + timedelta(days=3), warning_at=None), friday)
    assert (r.remaining, r.remaining_s) == ("剩余 1.0 个工作日", 3 * 86400)
