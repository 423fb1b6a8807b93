"""The join of a bundle (一件事): whatever order its departments decide in, with commands sent twice and alerts
repeated, each child completes once, the parent completes once, and the result is delivered once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.routing import window
from services.routing.messages import Action, CaseCompleted, ChildCompleted, StepEscalated, StepOpened
from services.routing.model import RoutedCase
from services.routing.plan import open_case
from services.routing.steps import Who, decide, escalate
from shared.replies import Refusal
from tests.unit.test_routing_steps import CASE_ID, bundle

AT = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
DEPARTMENTS = ["市场监管局", "公安局", "税务局", "人社局"]

Command = tuple[str, Action]  # (step id, action)


class Run(msgspec.Struct):
    case: RoutedCase
    published: list[msgspec.Struct]
    applied: list[Command]
    stages_seen: list[int]


def apply(run: Run, command: Command, at: datetime) -> bool:
    """Applies a decision; False (and nothing changed) when it is refused."""
    step_id, action = command
    step = run.case.step(step_id)
    # 岗位分离: a different person of the department for each of 承办, 审核 and 决定.
    who = Who(id=f"{step.department}-staff-{step.seq}", name=f"经办人{step.seq}", department=step.department)
    before = msgspec.json.encode(run.case)
    status = 200
    try:
        events = decide(run.case, step_id, action=action, opinion="意见", who=who, at=at)
    except Refusal as refusal:
        status, events = refusal.status, []
    if status != 200:
        assert status == 409
        assert msgspec.json.encode(run.case) == before
        return False
    run.published += events
    run.applied.append(command)
    return True


def drive(data: st.DataObject, case: RoutedCase, first: list[msgspec.Struct], refuse: bool) -> Run:
    """Decides every open step in an order hypothesis picks, mixing in duplicates and repeated alerts."""
    run = Run(case=case, published=list(first), applied=[], stages_seen=[])
    at = AT
    while case.status == "办理中":
        at += timedelta(minutes=1)
        workable = [s for s in case.steps if s.status == "待办"]
        choice = data.draw(st.sampled_from(["decide", "decide", "duplicate", "alert"]), label="what")
        if choice == "duplicate" and run.applied:
            again = data.draw(st.sampled_from(run.applied), label="again")
            assert not apply(run, again, at), f"a second {again} was carried out"
        elif choice == "alert":
            step = data.draw(st.sampled_from(case.steps), label="alerted")
            for _ in range(data.draw(st.integers(1, 3), label="repeats")):
                run.published += escalate(case, step.step_id, "逾期", at, at)
        else:
            step = data.draw(st.sampled_from(workable), label="step")
            action: Action = "通过"
            if refuse and data.draw(st.integers(0, 9), label="refuse?") == 0:
                action = "不予许可"
            run.stages_seen.append(case.track(step.track).stage)
            assert apply(run, (step.step_id, action), at)
    refusals = []
    for _ in range(data.draw(st.integers(1, 4), label="deliveries")):
        try:
            run.published += window.deliver(case, "窗口", "", at)
        except Refusal as refusal:
            refusals.append(refusal.status)
    assert set(refusals) <= {409}
    return run


def check(run: Run, children: int) -> None:
    counts = Counter(type(e).__name__ for e in run.published)
    assert counts["CaseCompleted"] == 1
    assert counts["CaseDelivered"] == 1
    done = [e.child_case_no for e in run.published if isinstance(e, ChildCompleted)]
    assert sorted(done) == sorted(t.case_no for t in run.case.tracks)
    assert len(done) == children
    opened = [e.step_id for e in run.published if isinstance(e, StepOpened)]
    assert len(opened) == len(set(opened)) == len(run.case.steps)
    escalated = [(e.step_id, e.level) for e in run.published if isinstance(e, StepEscalated)]
    assert len(escalated) == len(set(escalated))
    kinds = [type(e).__name__ for e in run.published]
    assert kinds.index("CaseCompleted") > max(i for i, k in enumerate(kinds) if k == "ChildCompleted")
    completed = next(e for e in run.published if isinstance(e, CaseCompleted))
    granted = all(t.result == "准予" for t in run.case.tracks)
    assert completed.result == ("准予" if granted else "不予")
    assert run.stages_seen == sorted(run.stages_seen)  # a later stage never starts before an earlier one ends


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), size=st.integers(3, 4))
def test_a_parallel_bundle_completes_and_is_delivered_once_in_any_order(data: st.DataObject, size: int) -> None:
    event = bundle(*((department, 1) for department in DEPARTMENTS[:size]))
    case, first = open_case(CASE_ID, event, AT)
    run = drive(data, case, first, refuse=False)
    check(run, size)
    assert case.result == "准予"
    assert Counter(type(e).__name__ for e in run.published)["StepDecided"] == 3 * size


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), size=st.integers(3, 4))
def test_refusals_anywhere_still_complete_the_bundle_once(data: st.DataObject, size: int) -> None:
    event = bundle(*((department, 1) for department in DEPARTMENTS[:size]))
    case, first = open_case(CASE_ID, event, AT)
    check(drive(data, case, first, refuse=True), size)


ENGINEERING = [("自然资源局", 1), ("发改委", 1), ("住建局", 2), ("自然资源局", 2), ("住建局", 3), ("水务局", 3),
               ("交通运输局", 3), ("住建局", 4)]  # fmt: skip


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), refuse=st.booleans())
def test_engineering_stages_join_in_order_whatever_the_order_within_a_stage(data: st.DataObject, refuse: bool) -> None:
    case, first = open_case(CASE_ID, bundle(*ENGINEERING), AT)
    check(drive(data, case, first, refuse=refuse), len(ENGINEERING))


@pytest.mark.parametrize("size", [3, 4])
def test_a_redelivered_acceptance_opens_nothing_twice(size: int) -> None:
    """The handler ignores a second CaseAccepted for a case it routed; the plan itself is deterministic."""
    event = bundle(*((department, 1) for department in DEPARTMENTS[:size]))
    one, first = open_case(CASE_ID, event, AT)
    two, second = open_case(CASE_ID, event, AT)
    assert one == two
    assert first == second
