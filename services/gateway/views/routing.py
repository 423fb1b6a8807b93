"""The gateway's views of routing's events (``routing.events``): steps and their work, children, results, 跨省通办."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import msgspec

from services.gateway.views.intake import Limit


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
    item_case_no: str = ""  # a bundle child's own case no
    stage: int = 1
    limit: Limit | None = None
    point: str = ""
    opened_at: datetime
    countersign: bool = False  # a co-department's 会签 step
    prerequisites: list[Prerequisite] = []  # 前后置: the granted results a dependent child opens with


class StepsClosed(msgspec.Struct, frozen=True, kw_only=True):
    """会签: the item was refused on one side; the steps still open on the other close unhandled."""

    version: ClassVar[int] = 1
    step_ids: list[str]
    reason: str
    closed_at: datetime


class StepClaimed(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    step_name: str
    department: str
    assignee_id: str
    assignee_name: str


class StepReassigned(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    step_name: str
    department: str
    from_name: str
    to_id: str
    to_name: str
    reason: str = ""


class StepDecided(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    step_name: str
    department: str
    action: str
    opinion: str
    materials: list[str] = []
    licence_name: str = ""  # 决定 准予: the licence issued
    licence_no: str = ""
    validity: str = ""
    decided_at: datetime


class StepResumed(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    step_name: str
    department: str
    reason: str


class SpecialProcedureStarted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    department: str
    kind: str
    reason: str
    started_at: datetime


class SpecialProcedureEnded(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    department: str
    kind: str
    result: str


class ExtensionRequested(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    department: str
    extension: Limit
    reason: str
    requested_at: datetime


class ExtensionApproved(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    department: str
    extension: Limit
    opinion: str = ""


class ExtensionRejected(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    department: str
    opinion: str


class StepEscalated(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    step_id: str
    step_name: str
    department: str
    level: str
    deadline: datetime | None = None
    escalated_at: datetime


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


class ItemResult(msgspec.Struct, frozen=True, kw_only=True):
    """One item's own result (each child of a bundle), with the licence its 决定 issued."""

    case_no: str
    item_code: str = ""
    item_name: str
    department: str = ""
    result: str
    reason: str = ""
    licence_name: str = ""
    licence_no: str = ""
    validity: str = ""


class CaseCompleted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    result: str
    reasons: list[str] = []
    completed_at: datetime
    items: list[ItemResult] = []  # cases completed before 2026-11-30 lack them


class CaseDelivered(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    method: str
    address: str = ""
    delivered_at: datetime
    items: list[ItemResult] = []


class HandedOver(msgspec.Struct, frozen=True, kw_only=True):
    """跨省通办: the case went to the other jurisdiction."""

    version: ClassVar[int] = 1
    case_no: str
    jurisdiction: str
    handed_over_at: datetime
    method: str = ""
    tracking_no: str = ""
