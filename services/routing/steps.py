"""A case's department steps and the rules for deciding and delivering it; pure, no I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

from services.routing.messages import Action, Result

LOCAL = ZoneInfo("Asia/Shanghai")
StepStatus = Literal["待办", "已办"]
CaseStatus = Literal["办理中", "已办结", "已出件"]


class Step(msgspec.Struct, kw_only=True):
    step_id: str
    name: str
    department: str
    status: StepStatus = "待办"
    action: Action | None = None
    handler: str = ""
    opinion: str = ""
    started_at: datetime
    ended_at: datetime | None = None


class RoutedCase(msgspec.Struct, kw_only=True):
    case_id: str
    case_no: str
    item_name: str
    steps: list[Step]
    status: CaseStatus = "办理中"
    result: Result | None = None


class Refusal(Exception):
    """A command that may not change the case; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def open_case(case_id: str, case_no: str, item_name: str, departments: list[str], at: datetime) -> RoutedCase:
    """One 承办 step per department, all open at once (并联办理)."""
    steps = [
        Step(step_id=f"{case_id}-{n}", name="承办", department=dept, started_at=at)
        for n, dept in enumerate(departments, start=1)
    ]
    return RoutedCase(case_id=case_id, case_no=case_no, item_name=item_name, steps=steps)


def decide(
    case: RoutedCase, step_id: str, *, action: Action, opinion: str, department: str, handler: str, at: datetime
) -> Step:
    step = next((s for s in case.steps if s.step_id == step_id), None)
    if step is None:
        raise Refusal(404, f"办件 {case.case_no} 没有环节 {step_id}")
    if step.department != department:
        raise Refusal(403, f"该环节属于{step.department}，{department}无权办理")
    if step.status == "已办" and step.ended_at is not None:
        when = step.ended_at.astimezone(LOCAL)
        raise Refusal(409, f"该环节已于 {when:%Y-%m-%d %H:%M} 办理（{step.action}），不能重复办理")
    if case.status != "办理中":
        raise Refusal(409, f"办件 {case.case_no} 已{case.status.removeprefix('已')}（{case.result}），不能再办理环节")
    step.status, step.action, step.opinion, step.handler, step.ended_at = "已办", action, opinion, handler, at
    if action == "不予许可":
        case.status, case.result = "已办结", "不予"
    elif all(s.status == "已办" for s in case.steps):
        case.status, case.result = "已办结", "准予"
    return step


def deliver(case: RoutedCase) -> None:
    if case.status == "办理中":
        raise Refusal(409, f"办件 {case.case_no} 尚未办结，不能出件")
    if case.status == "已出件":
        raise Refusal(409, f"办件 {case.case_no} 已出件，不能重复出件")
    case.status = "已出件"
