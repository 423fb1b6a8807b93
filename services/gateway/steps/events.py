"""The workbench's own views of routing's step events and of timing's events on step clocks.

Only the fields the workbench reads; defaults where an older event may lack one.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import msgspec


class Limit(msgspec.Struct, frozen=True):
    value: float
    unit: str


class Prerequisite(msgspec.Struct, frozen=True, kw_only=True):
    """一件事的前后置: a granted prerequisite's result, passed on to the child that needed it."""

    case_no: str
    item_name: str
    department: str = ""
    licence_name: str = ""
    licence_no: str = ""
    validity: str = ""


class StepOpened(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    step_id: str
    step_name: str
    seq: int = 1
    department: str
    item_code: str = ""
    item_name: str
    item_case_no: str = ""
    stage: int = 1
    limit: Limit | None = None
    point: str = ""
    opened_at: datetime
    countersign: bool = False  # a co-department's 会签 step
    prerequisites: list[Prerequisite] = []


class StepsClosed(msgspec.Struct, frozen=True, kw_only=True):
    """会签: the item was refused on one side; the steps still open on the other close unhandled."""

    version: ClassVar[int] = 1
    step_ids: list[str]
    reason: str
    closed_at: datetime


class StepClaimed(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    assignee_id: str
    assignee_name: str


class StepReassigned(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    from_name: str
    to_id: str
    to_name: str
    reason: str = ""


class StepDecided(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    action: str
    opinion: str
    materials: list[str] = []
    decided_at: datetime


class StepResumed(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    reason: str = ""


class SpecialProcedureStarted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    kind: str
    reason: str
    started_at: datetime


class SpecialProcedureEnded(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    kind: str
    result: str


class ExtensionRequested(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    extension: Limit
    reason: str
    requested_at: datetime


class ExtensionApproved(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    extension: Limit
    opinion: str = ""


class ExtensionRejected(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    opinion: str = ""


class StepEscalated(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    step_id: str
    step_name: str
    department: str
    level: str
    deadline: datetime | None = None
    escalated_at: datetime


# ------------------------------------------------ timing's clock events (a step clock's id is the step id)


class ClockStarted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    clock_id: str = ""
    purpose: str = ""  # 环节 for a step clock; 退回补正 for a return's limit (its id starts with the step id)
    step_id: str = ""
    promised_deadline: datetime
    warning_at: datetime | None = None
    provisional: bool = False  # 暂定: the deadline rests on a year without an official holiday schedule
    provisional_years: list[int] = []


class ClockAlerted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    clock_id: str
    step_id: str = ""
    level: str
    deadline: datetime | None = None


class ClockPaused(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    clock_id: str
    step_id: str = ""


class ClockResumed(msgspec.Struct, frozen=True, kw_only=True):
    """The clock runs again; its deadline moved by the paused working time."""

    version: ClassVar[int] = 1
    clock_id: str
    step_id: str = ""
    promised_deadline: datetime | None = None
    deadline: datetime | None = None
    warning_at: datetime | None = None
    provisional: bool = False
    provisional_years: list[int] = []


class ClockExtended(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    clock_id: str
    step_id: str = ""
    promised_deadline: datetime | None = None
    deadline: datetime | None = None
    warning_at: datetime | None = None
    provisional: bool = False
    provisional_years: list[int] = []


class DeadlineRevised(msgspec.Struct, frozen=True, kw_only=True):
    """The official schedule of ``year`` replaced the provisional one: the step clock's times were recomputed."""

    version: ClassVar[int] = 1
    clock_id: str
    step_id: str = ""
    year: int
    old_promised_deadline: datetime
    promised_deadline: datetime
    warning_at: datetime | None = None
    retracted: list[str] = []  # alert levels no longer due
    status_before: str = "正常"
    status_after: str = "正常"
    provisional: bool = False
    provisional_years: list[int] = []


class ApplicantNotified(msgspec.Struct, frozen=True, kw_only=True):
    """书面告知 (延长审批期限告知书 / 特别程序告知书 / 退件通知书); the phone sealed (shared.pii)."""

    version: ClassVar[int] = 1
    case_no: str
    item_case_no: str = ""
    item_name: str = ""
    step_id: str
    department: str
    notice_no: str
    kind: str
    title: str
    text: str
    basis: str = ""
    applicant_name: str = ""
    applicant_phone: str = ""
    notified_at: datetime
    item_code: str = ""


class CaseReturned(msgspec.Struct, frozen=True, kw_only=True):
    """退件: the case's open steps close (a return's or a 容缺 suspension's limit passed with nothing supplied)."""

    version: ClassVar[int] = 1
    case_no: str
    cause: str = ""
    reason: str = ""
    step_ids: list[str] = []
    notice_no: str = ""
    returned_at: datetime
