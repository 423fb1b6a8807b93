"""Timing's decisions, pure (services/timing/plans.py), and its handlers on a dict-backed Txn (tests/fakes.py):
which clocks an event starts, pauses, moves or stops, without Kafka or Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from services.timing import clocks as c
from services.timing import plans
from services.timing.app import PUBLISHES
from services.timing.clocks import CASE, CHILD, STEP
from services.timing.engine import Engine
from services.timing.handlers import Timing
from services.timing.messages import (
    CaseAccepted,
    CaseCompleted,
    ChildIn,
    ClockExtended,
    ClockPaused,
    ClockRequested,
    ClockResumed,
    ClockStarted,
    ClockStopped,
    ExtensionApproved,
    LimitIn,
    StepOpened,
)
from services.timing.store import Keys, decode_clock
from shared import topics
from shared.calendar import Limit
from shared.contracts import Publications
from shared.envelope import Actor, wrap
from shared.halls import load_halls
from shared.settings import load_settings
from tests.fakes import FakeTxn, MemoryStore

AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in the hall
CASE_ID = "case-1"
WD: Literal["WD"] = "WD"


def bundle(*, cross_province: bool = False) -> CaseAccepted:
    """A 一件事 in two stages; in the first, 刻章 needs 设立登记's grant."""
    return CaseAccepted(
        case_no="N",
        item_code="YJS",
        item_name="企业开办",
        departments=["市场监管局", "公安局"],
        promised_limit=LimitIn(5, WD),
        statutory_limit=LimitIn(20, WD),
        accepted_at=AT,
        owner="clerk-zhang",
        point="hall",
        approving_department="市场监管局",
        children=[
            ChildIn(case_no="N-01", department="市场监管局", stage=1, promised_limit=LimitIn(1, WD)),
            ChildIn(case_no="N-02", department="公安局", stage=1, promised_limit=LimitIn(1, WD), needs=["reg"]),
            ChildIn(case_no="N-03", department="税务局", stage=2, stage_name="领票", promised_limit=LimitIn(2, WD)),
        ],
        cross_province=cross_province,
        handover_limit=LimitIn(1, WD) if cross_province else None,
    )


# ---------------------------------------------------------------- pure plans


def test_a_bundle_starts_its_case_clock_and_its_children_waiting_where_they_must() -> None:
    starts = plans.accepted(CASE_ID, bundle())
    assert [(s.clock_id, s.purpose) for s in starts] == [
        (CASE_ID, CASE),
        ("N-01", CHILD),
        ("N-02", CHILD),
        ("N-03", CHILD),
    ]
    assert starts[0].promised == Limit(5, WD)
    assert starts[0].statutory == Limit(20, WD)
    assert starts[0].department == "市场监管局"
    assert starts[1].waits is None
    assert starts[2].waits == plans.Wait("待前序阶段:N-02", "等待前置事项准予")
    assert starts[3].waits == plans.Wait("待前序阶段:N-03", "等待前序阶段办结（第 2 阶段领票）")


def test_cross_province_times_only_the_handover() -> None:
    [only] = plans.accepted(CASE_ID, bundle(cross_province=True))
    assert (only.clock_id, only.promised, only.statutory) == (CASE_ID, Limit(1, WD), None)


def test_a_requested_supplement_clock_is_capped_by_the_case_deadline() -> None:
    case = plans.accepted(CASE_ID, bundle())[0]
    engine = Engine(load_halls())
    clock = c.start_clock(
        engine.calendar("hall"),
        clock_id=case.clock_id,
        purpose=case.purpose,
        case_id=case.case_id,
        case_no=case.case_no,
        started_at=case.started_at,
        promised=case.promised,
        department=case.department,
        owner="clerk-zhang",
        hall="hall",
    )
    ask = ClockRequested(clock_id="N:补齐", purpose="补齐", limit=LimitIn(3, WD))
    supplement = plans.requested(CASE_ID, ask, clock, AT)
    assert supplement.not_after == clock.promised_deadline
    assert (supplement.case_no, supplement.department, supplement.owner) == ("N", "市场监管局", "clerk-zhang")
    other = plans.requested(CASE_ID, ClockRequested(clock_id="x", purpose="整改", limit=LimitIn(3, WD)), clock, AT)
    assert other.not_after is None
    orphan = plans.requested(CASE_ID, ask, None, AT)
    assert (orphan.not_after, orphan.case_no, orphan.hall) == (None, "", "hall")


def test_the_reasons_given() -> None:
    assert plans.special_procedure(CASE_ID, "s1", "听证", "需听证") == plans.Wait(
        "特别程序:s1", "特别程序（听证）：需听证"
    )
    assert plans.special_procedure(CASE_ID, "").pause_id == f"特别程序:{CASE_ID}"
    assert plans.suspended("") == "容缺中止"
    assert plans.returned("补正") == "退件（补正逾期未补正）"
    assert plans.handed_over("江苏省") == "已移交江苏省办理"


# ---------------------------------------------------------------- the handlers on a fake Txn

SETTINGS = load_settings({})
KEYS = Keys(SETTINGS)
ROUTING = Actor(kind="system", id="routing", name="流转服务")


def publications() -> Publications:
    declared = Publications(SETTINGS, "timing")
    declared.declare(topics.TIMING_EVENTS, *PUBLISHES)
    return declared


async def feed(timing: Timing, store: MemoryStore, payload: object, at: datetime = AT) -> FakeTxn:
    env = wrap(payload, case_id=CASE_ID, actor=ROUTING, occurred_at=at)  # type: ignore[arg-type]
    route = timing.table()[env.type]
    txn = FakeTxn(store, env, publications())
    await route.handler(env, payload, txn)
    txn.commit()
    return txn


async def test_acceptance_starts_the_clocks_and_pauses_the_waiting_children() -> None:
    timing, store = Timing(SETTINGS, Engine(load_halls())), MemoryStore()
    txn = await feed(timing, store, bundle())
    started = txn.payloads(ClockStarted)
    assert [s.clock_id for s in started] == [CASE_ID, "N-01", "N-02", "N-03"]
    assert [(p.clock_id, p.pause_id) for p in txn.payloads(ClockPaused)] == [
        ("N-02", "待前序阶段:N-02"),
        ("N-03", "待前序阶段:N-03"),
    ]
    waiting = decode_clock(store.data[KEYS.clock("N-03")])
    assert waiting.paused
    assert not decode_clock(store.data[KEYS.clock("N-01")]).paused
    assert store.data[KEYS.due]  # the running clocks' next alerts are due
    # Redelivered: the clocks exist, nothing changes.
    again = await feed(timing, store, bundle())
    assert again.events == []


async def test_a_step_of_a_waiting_child_resumes_it_and_completion_stops_every_clock() -> None:
    timing, store = Timing(SETTINGS, Engine(load_halls())), MemoryStore()
    await feed(timing, store, bundle())
    opened = StepOpened(case_no="N", step_id="s1", step_name="承办", item_case_no="N-03", limit=LimitIn(1, WD))
    txn = await feed(timing, store, opened, AT + timedelta(hours=1))
    assert [r.clock_id for r in txn.payloads(ClockResumed)] == ["N-03"]
    [step] = txn.payloads(ClockStarted)
    assert (step.clock_id, step.purpose, step.parent) == ("s1", STEP, "N-03")
    # An extension without named clocks moves the step's and the case's.
    extended = await feed(timing, store, ExtensionApproved(step_id="s1", extension=LimitIn(1, WD)))
    assert sorted(e.clock_id for e in extended.payloads(ClockExtended)) == [CASE_ID, "s1"]
    done = await feed(timing, store, CaseCompleted(case_no="N", completed_at=AT + timedelta(days=1)))
    stops = {s.clock_id: s.reason for s in done.payloads(ClockStopped)}
    assert stops == {
        CASE_ID: "办结",
        "N-01": "随办件办结",
        "N-02": "随办件办结",
        "N-03": "随办件办结",
        "s1": "随办件办结",
    }
