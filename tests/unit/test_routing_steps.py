"""并联办理的环节规则: 一个部门一个承办环节，按部门办理、不可重复办理，全部通过才准予，办结后统一出件。"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from services.routing.messages import Action
from services.routing.steps import Refusal, RoutedCase, decide, deliver, open_case

OPENED = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
DECIDED = OPENED + timedelta(hours=3)
HOUSING, LAND, TAX = "住建局", "自然资源局", "税务局"


def parallel_case(*departments: str) -> RoutedCase:
    return open_case("c42", "15052520260302000042", "用气报装", list(departments), OPENED)


def act(case: RoutedCase, n: int, action: Action = "通过", department: str | None = None) -> None:
    """The n-th step's own department decides it (unless another department is given)."""
    step = case.steps[n - 1]
    decide(
        case,
        step.step_id,
        action=action,
        opinion=f"{step.department}意见",
        department=department or step.department,
        handler="张三",
        at=DECIDED,
    )


def snapshot(case: RoutedCase) -> bytes:
    return msgspec.json.encode(case)


def refused(case: RoutedCase, command: Callable[[], object]) -> Refusal:
    """Runs a command that must be refused, and checks the case did not change."""
    before = snapshot(case)
    with pytest.raises(Refusal) as refusal:
        command()
    assert snapshot(case) == before
    return refusal.value


# ---------------------------------------------------------------- 分办 (open_case)


def test_one_open_step_per_department_all_at_once() -> None:
    case = parallel_case(HOUSING, LAND, TAX)
    assert [s.department for s in case.steps] == [HOUSING, LAND, TAX]
    assert [s.step_id for s in case.steps] == ["c42-1", "c42-2", "c42-3"]
    assert all(s.name == "承办" for s in case.steps)
    assert all(s.status == "待办" and s.action is None and s.ended_at is None for s in case.steps)
    assert all(s.started_at == OPENED for s in case.steps)
    assert (case.status, case.result) == ("办理中", None)
    assert (case.case_id, case.case_no, case.item_name) == ("c42", "15052520260302000042", "用气报装")


def test_step_ids_are_unique() -> None:
    case = parallel_case(HOUSING, LAND, TAX, HOUSING)
    assert len({s.step_id for s in case.steps}) == 4


# ---------------------------------------------------------------- 办理 (decide)


def test_deciding_records_who_what_and_when() -> None:
    case = parallel_case(HOUSING, LAND)
    step = decide(case, "c42-2", action="通过", opinion="同意", department=LAND, handler="李四", at=DECIDED)
    assert step is case.steps[1]
    assert (step.status, step.action, step.opinion, step.handler, step.ended_at) == (
        "已办",
        "通过",
        "同意",
        "李四",
        DECIDED,
    )
    assert case.steps[0].status == "待办"
    assert (case.status, case.result) == ("办理中", None)


def test_the_case_is_granted_only_when_every_step_passes() -> None:
    case = parallel_case(HOUSING, LAND, TAX)
    act(case, 3)
    assert (case.status, case.result) == ("办理中", None)
    act(case, 1)
    assert (case.status, case.result) == ("办理中", None)
    act(case, 2)
    assert (case.status, case.result) == ("已办结", "准予")


def test_a_single_department_case_is_granted_by_its_one_step() -> None:
    case = parallel_case(HOUSING)
    act(case, 1)
    assert (case.status, case.result) == ("已办结", "准予")


@pytest.mark.parametrize("refusing", [1, 2, 3])
def test_one_refusal_completes_the_case_as_refused(refusing: int) -> None:
    case = parallel_case(HOUSING, LAND, TAX)
    act(case, refusing, "不予许可")
    assert (case.status, case.result) == ("已办结", "不予")
    assert case.steps[refusing - 1].action == "不予许可"


def test_a_refusal_after_the_other_steps_passed_is_still_refused() -> None:
    case = parallel_case(HOUSING, LAND)
    act(case, 1)
    act(case, 2, "不予许可")
    assert (case.status, case.result) == ("已办结", "不予")


def test_deciding_a_decided_step_is_a_conflict() -> None:
    case = parallel_case(HOUSING, LAND)
    act(case, 1)
    refusal = refused(case, lambda: act(case, 1, "不予许可"))
    assert refusal.status == 409
    assert "不能重复办理" in refusal.reason
    assert str(refusal) == refusal.reason


def test_the_conflict_says_when_the_step_was_decided_in_the_halls_time() -> None:
    """Decided at 04:30 UTC, which is 12:30 in the hall (Asia/Shanghai): people read local time, not UTC."""
    case = parallel_case(HOUSING, LAND)
    act(case, 1)
    refusal = refused(case, lambda: act(case, 1))
    assert "2026-03-02 12:30" in refusal.reason


def test_another_department_may_not_decide_a_step() -> None:
    case = parallel_case(HOUSING, LAND)
    refusal = refused(case, lambda: act(case, 1, department=TAX))
    assert refusal.status == 403
    assert HOUSING in refusal.reason
    assert TAX in refusal.reason


def test_another_department_is_forbidden_even_on_a_decided_step() -> None:
    case = parallel_case(HOUSING, LAND)
    act(case, 1)
    refusal = refused(case, lambda: act(case, 1, department=LAND))
    assert refusal.status == 403
    assert HOUSING in refusal.reason
    assert LAND in refusal.reason


def test_an_unknown_step_is_not_found() -> None:
    case = parallel_case(HOUSING)
    refusal = refused(
        case,
        lambda: decide(case, "c42-9", action="通过", opinion="", department=HOUSING, handler="张三", at=DECIDED),
    )
    assert refusal.status == 404
    assert "c42-9" in refusal.reason
    assert case.case_no in refusal.reason


def test_a_step_of_another_case_is_not_found() -> None:
    case = parallel_case(HOUSING)
    other = open_case("c43", "15052520260302000043", "用气报装", [HOUSING], OPENED)
    refusal = refused(
        case,
        lambda: decide(
            case, other.steps[0].step_id, action="通过", opinion="", department=HOUSING, handler="", at=DECIDED
        ),
    )
    assert refusal.status == 404


def test_a_refused_case_stays_refused_when_another_department_then_passes() -> None:
    """不予许可 completes the case; a later 通过 on a still-open step may not turn it into 准予."""
    case = parallel_case(HOUSING, LAND)
    act(case, 1, "不予许可")
    refusal = refused(case, lambda: act(case, 2))
    assert refusal.status == 409
    assert (case.status, case.result) == ("已办结", "不予")


def test_a_delivered_case_cannot_be_decided_again() -> None:
    """Once the result has left the window (已出件), no step decision may move the case back to 已办结."""
    case = parallel_case(HOUSING, LAND)
    act(case, 1, "不予许可")
    deliver(case)
    refusal = refused(case, lambda: act(case, 2, "不予许可"))
    assert refusal.status == 409
    assert case.status == "已出件"


# ---------------------------------------------------------------- 出件 (deliver)


def test_delivery_after_completion() -> None:
    case = parallel_case(HOUSING)
    act(case, 1)
    deliver(case)
    assert (case.status, case.result) == ("已出件", "准予")


def test_a_refused_case_is_delivered_too() -> None:
    case = parallel_case(HOUSING, LAND)
    act(case, 2, "不予许可")
    deliver(case)
    assert (case.status, case.result) == ("已出件", "不予")


def test_delivery_before_completion_is_a_conflict() -> None:
    case = parallel_case(HOUSING, LAND)
    act(case, 1)
    refusal = refused(case, lambda: deliver(case))
    assert refusal.status == 409
    assert "尚未办结" in refusal.reason
    assert case.case_no in refusal.reason


def test_delivering_twice_is_a_conflict() -> None:
    case = parallel_case(HOUSING)
    act(case, 1)
    deliver(case)
    refusal = refused(case, lambda: deliver(case))
    assert refusal.status == 409
    assert "已出件" in refusal.reason


def test_a_case_survives_its_json_round_trip() -> None:
    """Routing keeps the case in Redis as JSON: what is decoded decides the same way."""
    case = parallel_case(HOUSING, LAND)
    act(case, 1)
    restored = msgspec.json.decode(snapshot(case), type=RoutedCase)
    assert restored == case
    act(restored, 2)
    assert (restored.status, restored.result) == ("已办结", "准予")
