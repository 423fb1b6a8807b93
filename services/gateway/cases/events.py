"""The gateway's own views of the events a case's timeline is made of."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import msgspec


class CaseAccepted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    item_code: str
    item_name: str
    departments: list[str]


class Prerequisite(msgspec.Struct, frozen=True, kw_only=True):
    item_name: str
    licence_name: str = ""
    licence_no: str = ""


class StepOpened(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str = ""
    step_name: str
    department: str
    item_name: str = ""
    item_case_no: str = ""  # a bundle child's own case no
    seq: int = 1
    prerequisites: list[Prerequisite] = []  # 前后置: the granted results a dependent child opens with


class StepDecided(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_name: str
    department: str
    action: str
    opinion: str
    materials: list[str] = []
    licence_name: str = ""  # 决定 准予: the licence issued
    licence_no: str = ""
    validity: str = ""


class CaseCompleted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    result: str
    reasons: list[str] = []


class CaseDelivered(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    method: str
    address: str = ""


class ClockStarted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    promised_deadline: datetime
    purpose: str = "办件"
    case_no: str = ""
    provisional: bool = False  # 暂定: it rests on a year without an official holiday schedule yet


class ClockPaused(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    purpose: str = "办件"
    reason: str = ""


class ClockResumed(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    purpose: str = "办件"
    promised_deadline: datetime
    provisional: bool = False


class ClockLimit(msgspec.Struct, frozen=True):
    value: float
    unit: str


class ClockExtended(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    purpose: str = "办件"
    limit: ClockLimit
    promised_deadline: datetime
    provisional: bool = False


class ClockAlerted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    purpose: str = "办件"
    level: str
    deadline: datetime


class ClockStopped(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    on_time: bool
    purpose: str = "办件"
    reason: str = ""
    outcome: str = ""  # 退件: stopped without a decision, neither on time nor overdue


class ClockRefused(msgspec.Struct, frozen=True, kw_only=True):
    """No longer published; old records are shown neutrally (their reason is meant for operators)."""

    version: ClassVar[int] = 1
    purpose: str = "办件"


class DeadlineRevised(msgspec.Struct, frozen=True, kw_only=True):
    """A year's official holiday schedule was loaded: a clock's provisional deadline was recomputed."""

    version: ClassVar[int] = 1
    purpose: str
    case_no: str = ""
    year: int
    old_promised_deadline: datetime
    promised_deadline: datetime
    retracted: list[str] = []
    provisional: bool = False


class RatingRecorded(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    level: str
    channel: str
    stage: str = ""
    kind: str = "首评"
    default: bool = False


class FollowUpChanged(msgspec.Struct, frozen=True, kw_only=True):
    """A bad review's follow-up (差评整改) after one change, said in words."""

    version: ClassVar[int] = 1
    change: str


# ---------------------------------------------------------------- routing's step work, children and 跨省通办


class StepClaimed(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_name: str
    department: str
    assignee_name: str


class StepReassigned(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_name: str
    department: str
    from_name: str
    to_name: str


class StepResumed(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_name: str
    department: str
    reason: str


class SpecialProcedureStarted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    department: str
    kind: str
    reason: str


class SpecialProcedureEnded(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    department: str
    kind: str
    result: str


class Limit(msgspec.Struct, frozen=True):
    value: float
    unit: str


class ExtensionRequested(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    department: str
    extension: Limit
    reason: str


class ExtensionApproved(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    department: str
    extension: Limit


class ExtensionRejected(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    department: str
    opinion: str


class StepEscalated(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_name: str
    department: str
    level: str


class ChildCompleted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    child_case_no: str
    item_name: str
    department: str
    result: str
    reason: str = ""
    licence_name: str = ""
    licence_no: str = ""
    closed_by: str = ""  # 不予办理: the prerequisite child whose refusal closed it unhandled


class StepsClosed(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_ids: list[str]
    reason: str


class HandedOver(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    jurisdiction: str


class HandoverReceived(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    jurisdiction: str
    external_case_no: str = ""


class ExternalResult(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    jurisdiction: str
    result: str
    opinion: str = ""


class Material(msgspec.Struct, frozen=True):
    code: str
    name: str


class CaseRefused(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    item_name: str
    reason: str


class CaseReturned(msgspec.Struct, frozen=True, kw_only=True):
    """退件 (routing): a return's or a 容缺 suspension's limit passed with nothing supplied."""

    version: ClassVar[int] = 1
    case_no: str
    cause: str = ""
    reason: str = ""
    notice_no: str = ""


class MaterialsSupplemented(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    materials: list[Material]
    remaining: list[Material] = []
    complete: bool


class CaseSuspended(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    reason: str
    notice: str = ""
