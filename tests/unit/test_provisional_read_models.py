"""暂定 deadlines in every read model that shows one, and their revision once a year's official holiday schedule is
loaded: the window's dossier and receipt, the case timeline, the workbench, the SLA board and evaluation.

Each read model is fed timing's (and intake's, routing's) own payloads, in memory; the pages are rendered from
the gateway's templates with the helpers the pages use.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import msgspec
import pytest
from jinja2 import Environment, FileSystemLoader

from services.evaluation.handlers import CaseClocks
from services.evaluation.messages import (
    ClockRequested,
    ClockWithdrawn,
    FollowUp,
    FollowUpChanged,
    Rater,
    RatingOpened,
    RatingRecorded,
)
from services.evaluation.ratings import CaseFile, StageRecord
from services.evaluation.store import Store
from services.gateway.cases.timeline import Timeline, TimelineEntry
from services.gateway.desk import api as desk_api
from services.gateway.desk.dossier import Dossiers
from services.gateway.desk.helpers import HELPERS
from services.gateway.sla.board import SlaBoard
from services.gateway.steps.pages import HELPERS as STEP_HELPERS
from services.gateway.steps.workbench import Workbench
from services.intake.messages import ChildCase, LimitOut, Material
from services.timing import messages as timing
from shared.clock import ManualClock
from shared.envelope import wrap
from shared.kafka import HandlerTable
from shared.localtime import LOCAL
from shared.outbox import Txn
from shared.rating_policy import load_policy
from shared.settings import load_settings
from tests.provisional_events import (
    ACCEPTED,
    CASE_ID,
    CASE_NO,
    CHILD_NO,
    CLERK,
    OFFICIAL,
    OPERATOR_TEXT,
    PROVISIONAL,
    RECEIPT_TEXT,
    STEP_ID,
    accepted,
    revised,
    started,
    step_opened,
)
from tests.unit.readmodels import Feed

SETTINGS = load_settings({})
TEMPLATES = Path(__file__).resolve().parents[2] / "services" / "gateway" / "templates"


def page(name: str, **context: Any) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    env.globals["current_user"] = lambda _request: None
    return env.get_template(name).render(**context)


def receipt(dossier: Any) -> str:
    return page("desk/document.html", d=dossier, pending=desk_api.pending(dossier), **HELPERS)


# ---------------------------------------------------------------- the window's dossier and its receipt


async def test_the_receipt_shows_a_provisional_deadline_as_such_and_a_reprint_the_revised_one() -> None:
    dossiers = Dossiers(SETTINGS)
    feed = Feed(dossiers.table(), SETTINGS)
    child = ChildCase(
        case_no=CHILD_NO,
        item_code="x",
        item_name="税务登记",
        department="税务局",
        stage=1,
        stage_name="",
        promised_limit=LimitOut(5, "WD"),
        statutory_limit=LimitOut(20, "WD"),
    )
    owed = [Material("M03", "委托书")]
    await feed(
        accepted(deferred=True, owed_materials=owed, supplement_limit=LimitOut(5, "WD"), children=[child]),
        CASE_ID,
        actor=CLERK,
    )
    await feed(started(), CASE_ID)
    await feed(started(clock_id=f"{CASE_ID}:补齐", purpose="补齐", promised_deadline=PROVISIONAL), CASE_ID)
    await feed(started(clock_id=CHILD_NO, purpose="子件", case_no=CHILD_NO), CASE_ID)
    await feed(started(clock_id=STEP_ID, purpose="环节", step_id=STEP_ID, promised_deadline=OFFICIAL), CASE_ID)

    dossier = await dossiers.get(feed.reads, CASE_ID)
    assert dossier is not None
    assert (dossier.promised_deadline, dossier.provisional, dossier.provisional_years) == (PROVISIONAL, True, [2027])
    assert (dossier.supplement_deadline, dossier.supplement_provisional) == (PROVISIONAL, True)
    assert dossier.children[0].provisional
    html = receipt(dossier)
    assert html.count(RECEIPT_TEXT) == 3  # the promised deadline, the 补齐 deadline, the child's
    assert 'data-provisional="2027"' in html
    assert not desk_api.pending(dossier)

    await feed(revised(), CASE_ID)
    await feed(revised(clock_id=f"{CASE_ID}:补齐", purpose="补齐"), CASE_ID)
    await feed(revised(clock_id=CHILD_NO, purpose="子件", case_no=CHILD_NO), CASE_ID)
    dossier = await dossiers.get(feed.reads, CASE_ID)
    assert dossier is not None
    assert (dossier.promised_deadline, dossier.provisional, dossier.revised_from) == (OFFICIAL, False, PROVISIONAL)
    assert (dossier.supplement_deadline, dossier.supplement_provisional) == (OFFICIAL, False)
    reprint = receipt(dossier)
    assert "暂定" not in reprint
    assert reprint.count("2027-01-06 17:30") == 3
    assert "2027 年放假安排公布后更正，原为 2027-01-04 17:30" in reprint


async def test_a_deadline_still_provisional_for_another_year_stays_marked_after_a_revision() -> None:
    dossiers = Dossiers(SETTINGS)
    feed = Feed(dossiers.table(), SETTINGS)
    await feed(accepted(), CASE_ID, actor=CLERK)
    await feed(started(provisional_years=[2027, 2028]), CASE_ID)
    await feed(revised(provisional=True, provisional_years=[2028]), CASE_ID)
    dossier = await dossiers.get(feed.reads, CASE_ID)
    assert dossier is not None
    assert (dossier.provisional, dossier.provisional_years) == (True, [2028])
    assert "2027-01-06 17:30（暂定，以国务院公布的放假安排为准）" in receipt(dossier)


async def test_an_old_clock_refusal_shows_the_deadline_as_being_computed_never_the_operators_command() -> None:
    dossiers = Dossiers(SETTINGS)
    feed = Feed(dossiers.table(), SETTINGS)
    await feed(accepted(), CASE_ID, actor=CLERK)
    await feed(timing.ClockRefused(case_no=CASE_NO, reason=OPERATOR_TEXT, year=2027, clock_id=CASE_ID), CASE_ID)
    # A dossier filled before this version kept the reason under its own field: it is not read any more.
    feed.redis.hset(SETTINGS.key("gateway", "dossier", CASE_ID), "deadline_note", msgspec.json.encode(OPERATOR_TEXT))
    dossier = await dossiers.get(feed.reads, CASE_ID)
    assert dossier is not None
    html = receipt(dossier)
    assert "计算中" in html
    assert "calendar" not in html
    assert "工作日历" not in html
    assert desk_api.pending(dossier)  # the desk page keeps asking until timing computes it
    cases = page("desk/cases.html", user=None, cases=[dossier], states={CASE_ID: "已受理"}, **HELPERS)
    assert "calendar" not in cases

    # Timing computes the refused clock when it starts again: the receipt then shows it.
    await feed(started(), CASE_ID)
    dossier = await dossiers.get(feed.reads, CASE_ID)
    assert dossier is not None
    assert RECEIPT_TEXT in receipt(dossier)
    assert "暂定" in page("desk/cases.html", user=None, cases=[dossier], states={}, **HELPERS)


# ---------------------------------------------------------------- the case timeline


async def test_the_timeline_marks_provisional_deadlines_and_records_each_revision() -> None:
    timeline = Timeline(SETTINGS)
    feed = Feed(timeline.table(), SETTINGS)
    await feed(accepted(), CASE_ID, actor=CLERK, at=ACCEPTED)
    await feed(started(), CASE_ID, at=ACCEPTED + timedelta(seconds=1))
    await feed(
        timing.ClockRefused(case_no=CASE_NO, reason=OPERATOR_TEXT, year=2027, clock_id="x", purpose="补齐"),
        CASE_ID,
        at=ACCEPTED + timedelta(seconds=2),
    )
    await feed(revised(retracted=["预警"]), CASE_ID, at=ACCEPTED + timedelta(days=7))
    await feed(
        revised(clock_id=STEP_ID, purpose="环节", step_id=STEP_ID, promised_deadline=PROVISIONAL),
        CASE_ID,
        at=ACCEPTED + timedelta(days=7, seconds=1),
    )
    # An entry recorded from a ClockRefused by an earlier version said the operator's reason.
    old = TimelineEntry(
        event_id="old", type="ClockRefused.v1", state="", summary=f"无法计时：{OPERATOR_TEXT}", actor=CLERK, at=ACCEPTED
    )
    feed.redis.hset(SETTINGS.key("gateway", "timeline", CASE_ID), "old", msgspec.json.encode(old))

    summaries = [e.summary for e in await timeline.entries(feed.reads, CASE_ID)]
    assert f"开始计时，承诺办结时间 {RECEIPT_TEXT}" in summaries
    assert "容缺补齐时限计算中" in summaries
    assert "期限计算中" in summaries
    assert not any("calendar" in s or "工作日历" in s for s in summaries)
    assert (
        "期限更正：2027-01-04 17:30 → 2027-01-06 17:30（2027 年放假安排已公布，按正式安排重新计算；已撤回预警）"
    ) in summaries
    assert "环节期限确认：2027-01-04 17:30 不变（2027 年放假安排已公布，按正式安排重新计算）" in summaries


# ---------------------------------------------------------------- the workbench


class Both:
    """A workbench feed that also feeds the SLA board's table on the same Redis."""

    def __init__(self, workbench: Feed, board_table: HandlerTable) -> None:
        self.workbench = workbench
        self.board = Feed(board_table, SETTINGS, workbench.redis)
        self.reads = workbench.reads

    async def __call__(self, payload: msgspec.Struct, case_id: str, **more: Any) -> None:
        await self.workbench(payload, case_id, **more)
        await self.board(payload, case_id, **more)


async def test_the_workbench_shows_a_provisional_due_time_uses_timings_warning_time_and_follows_a_revision() -> None:
    clock = ManualClock(PROVISIONAL - timedelta(hours=12))  # past the provisional warning time
    workbench = Workbench(SETTINGS, clock)
    # The workbench reads its step clocks from the SLA board's projection: both tables take timing's events, as in
    # the gateway's one consumer.
    feed = Both(Feed(workbench.table(), SETTINGS), SlaBoard(SETTINGS, clock).table())
    await feed(step_opened(), CASE_ID, actor=CLERK)
    step_clock = {"clock_id": STEP_ID, "purpose": "环节", "step_id": STEP_ID}
    await feed(started(**step_clock), CASE_ID)
    await feed(
        timing.ClockAlerted(
            clock_id=STEP_ID,
            purpose="环节",
            case_no=CASE_NO,
            step_id=STEP_ID,
            level="预警",
            deadline=PROVISIONAL,
            due_at=PROVISIONAL - timedelta(days=1),
            fired_at=PROVISIONAL - timedelta(days=1),
        ),
        CASE_ID,
    )
    (view,) = await workbench.open_steps(feed.reads, "自然资源局")
    assert (view.due, view.provisional, view.provisional_years, view.sla) == (PROVISIONAL, True, [2027], "预警")
    inbox = page("workbench/inbox.html", user=None, department="自然资源局", steps=[view], lead=False, **STEP_HELPERS)
    assert "暂定" in inbox

    await feed(revised(**step_clock, retracted=["预警"], status_before="预警", status_after="正常"), CASE_ID)
    (view,) = await workbench.open_steps(feed.reads, "自然资源局")
    assert (view.due, view.warning_at, view.provisional, view.alerts) == (
        OFFICIAL,
        OFFICIAL - timedelta(days=1),
        False,
        [],
    )
    assert view.sla == "正常"  # the retracted 预警 no longer counts, and the new warning time is not reached
    clock.set(OFFICIAL - timedelta(hours=12))
    step = await workbench.step(feed.reads, STEP_ID)
    assert step is not None
    assert (await workbench.view(feed.reads, step)).sla == "预警"  # timing's warning time, without an alert
    trail = [r.summary for r in await workbench.records(feed.reads, STEP_ID)]
    assert any(s.startswith("期限更正：2027-01-04 17:30 → 2027-01-06 17:30") and "由预警更正为正常" in s for s in trail)
    assert "暂定" not in page(
        "workbench/inbox.html", user=None, department="自然资源局", steps=[view], lead=False, **STEP_HELPERS
    )


# ---------------------------------------------------------------- the SLA board


async def test_the_board_names_provisional_years_and_shows_each_correction() -> None:
    clock = ManualClock(PROVISIONAL - timedelta(hours=12))
    sla = SlaBoard(SETTINGS, clock)
    feed = Feed(sla.table(), SETTINGS)
    await feed(started(), CASE_ID)
    await feed(started(clock_id="other", case_no="N2", provisional=False, provisional_years=[]), "case-2")
    await feed(
        timing.ClockAlerted(
            clock_id=CASE_ID,
            purpose="办件",
            case_no=CASE_NO,
            level="预警",
            deadline=PROVISIONAL,
            due_at=PROVISIONAL - timedelta(days=1),
            fired_at=PROVISIONAL - timedelta(days=1),
        ),
        CASE_ID,
    )
    view = await sla.view(feed.reads)
    (row,) = [r for r in view.warnings if r.clock_id == CASE_ID]
    assert (row.provisional, row.provisional_years, row.correction) == (True, [2027], "")
    assert (view.provisional_years, view.banner) == ([2027], "2027 年的放假安排尚未公布，相关期限为暂定")
    assert not next(r for r in [*view.warnings, *view.closest] if r.clock_id == "other").provisional

    await feed(revised(retracted=["预警"], status_before="预警", status_after="正常"), CASE_ID)
    view = await sla.view(feed.reads)
    assert view.totals.warning == 1  # "other" (same times, not provisional) is still in its warning time
    (row,) = [r for r in view.closest if r.clock_id == CASE_ID]
    assert (row.deadline, row.warning_at, row.status, row.provisional) == (
        OFFICIAL,
        OFFICIAL - timedelta(days=1),
        "正常",
        False,
    )
    assert (row.correction, row.revised_from) == ("原 预警，按正式放假安排更正为 正常", PROVISIONAL)
    assert (view.provisional_years, view.banner) == ([], "")
    helpers = {"when": lambda m: m and f"{m.astimezone(LOCAL):%Y-%m-%d %H:%M}", "years_text": str}
    html = page(
        "sla/case.html",
        user=None,
        case=await sla.case(feed.reads, CASE_ID, CASE_NO),
        timeline=[],
        **{
            **helpers,
            "left": str,
            "badges": {"正常": "ok", "预警": "warn", "逾期": "late"},
        },
    )
    assert "更正：原 预警，按正式放假安排更正为 正常（原期限 2027-01-04 17:30）" in html


async def test_an_alert_still_due_after_a_revision_counts_for_the_new_deadline() -> None:
    sla = SlaBoard(SETTINGS, ManualClock(ACCEPTED))
    feed = Feed(sla.table(), SETTINGS)
    await feed(started(), CASE_ID)
    for level in ("预警", "逾期"):
        alert = timing.ClockAlerted(
            clock_id=CASE_ID,
            purpose="办件",
            case_no=CASE_NO,
            level=level,
            deadline=PROVISIONAL,
            due_at=PROVISIONAL,
            fired_at=PROVISIONAL,
        )
        await feed(alert, CASE_ID)
    # The official schedule moved the deadline a day earlier: still overdue, the warning not retracted either.
    earlier = PROVISIONAL - timedelta(days=1)
    await feed(revised(promised_deadline=earlier, status_before="逾期", status_after="逾期"), CASE_ID)
    (row,) = (await sla.view(feed.reads)).overdue
    assert (row.status, row.deadline, row.correction) == ("逾期", earlier, "已按 2027 年正式放假安排更正")


async def test_loading_a_years_calendar_takes_it_off_the_banner() -> None:
    sla = SlaBoard(SETTINGS, ManualClock(ACCEPTED))
    feed = Feed(sla.table(), SETTINGS)
    await feed(started(provisional_years=[2027, 2028]), CASE_ID)
    assert (await sla.view(feed.reads)).banner == "2027、2028 年的放假安排尚未公布，相关期限为暂定"
    await feed(timing.CalendarLoaded(year=2027, label="2027 年放假安排"), "calendar-2027")
    view = await sla.view(feed.reads)
    assert (view.provisional_years, view.banner) == ([2028], "2028 年的放假安排尚未公布，相关期限为暂定")


# ---------------------------------------------------------------- evaluation


@pytest.fixture
def evaluation() -> tuple[CaseClocks, Store, Feed]:
    store = Store(SETTINGS)
    clocks = CaseClocks(store, load_policy(), SETTINGS.region_code)
    feed = Feed(clocks.table(), SETTINGS)
    published = (RatingOpened, RatingRecorded, FollowUpChanged, ClockRequested, ClockWithdrawn)
    feed.publications.declare("evaluation.events", *published)
    return clocks, store, feed


async def test_a_rating_window_ends_when_the_revised_deadline_says(evaluation: tuple[CaseClocks, Store, Feed]) -> None:
    _, store, feed = evaluation
    await feed(accepted(), CASE_ID, actor=CLERK)
    window = f"{CASE_ID}:评价期:受理"
    await feed(started(clock_id=window, purpose="评价期"), CASE_ID)
    case = await store.case(_txn(feed), CASE_ID)
    assert case is not None
    assert case.stages["受理"].window_ends_at == PROVISIONAL
    await feed(revised(clock_id=window, purpose="评价期"), CASE_ID)
    case = await store.case(_txn(feed), CASE_ID)
    assert case is not None
    assert case.stages["受理"].window_ends_at == OFFICIAL


async def test_a_correction_deadline_follows_timing_from_start_to_extension_to_revision(
    evaluation: tuple[CaseClocks, Store, Feed],
) -> None:
    _, store, feed = evaluation
    followup = FollowUp(
        followup_id="f1",
        case_id=CASE_ID,
        case_no=CASE_NO,
        item_code="11150525000118001",
        item_name="查封登记",
        stage="受理",
        department="自然资源局",
        clerk=CLERK.id,
        rating_id="r1",
        level="不满意",
        text="",
        rater=Rater(kind="applicant", name="赵小红", real_name=True),
        region_code="150525",
        opened_at=ACCEPTED,
        status="整改中",
        clock_id="f1:整改:2",  # an extension's clock: evaluation asked timing to run on from the old deadline
        extended=True,
        overdue=True,
    )
    case = CaseFile(
        case_no=CASE_NO,
        item_code="11150525000118001",
        item_name="查封登记",
        department="自然资源局",
        region_code="150525",
        applicant_name="赵小红",
        applicant_id_number="150525199001011237",
        accepted_by=CLERK.id,
        accepted_at=ACCEPTED,
        stages={"受理": StageRecord(opened_at=ACCEPTED, clerk=CLERK.id, clock_id="w", followup_id="f1")},
    )
    feed.redis.set(SETTINGS.key("evaluation", "case", CASE_ID), msgspec.json.encode(case))
    feed.redis.set(SETTINGS.key("evaluation", "followup", "f1"), msgspec.json.encode(followup))

    # Timing answers the extension's request with a provisional deadline in 2027 (it used to refuse it).
    await feed(started(clock_id="f1:整改:2", purpose="整改"), CASE_ID)
    found = await store.followup(_txn(feed), "f1")
    assert found is not None
    assert (found.deadline, found.deadline_provisional) == (PROVISIONAL, True)
    assert _changes(feed)[-1] == f"整改期限至 {RECEIPT_TEXT}"

    await feed(revised(clock_id="f1:整改:2", purpose="整改", retracted=["逾期"]), CASE_ID)
    found = await store.followup(_txn(feed), "f1")
    assert found is not None
    assert (found.deadline, found.deadline_provisional, found.overdue) == (OFFICIAL, False, False)
    assert _changes(feed)[-1] == "整改期限更正：2027-01-04 17:30 → 2027-01-06 17:30（2027 年放假安排已公布）"


def _txn(feed: Feed) -> Txn:
    """A transaction to read evaluation's state with (nothing is written through it)."""
    cause = wrap(timing.CalendarLoaded(year=0), case_id="", actor=CLERK)
    return Txn(cast("Any", feed.redis), cause, feed.publications)


def _changes(feed: Feed) -> list[str]:
    changed = [e for e in feed.emitted if e.type == "FollowUpChanged.v1"]
    return [msgspec.json.decode(e.payload)["change"] for e in changed]
