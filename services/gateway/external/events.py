"""The 跨省通办 desk's own views of intake's, routing's, timing's and the other jurisdiction's events."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import msgspec


class Material(msgspec.Struct, frozen=True):
    code: str
    name: str = ""


class Child(msgspec.Struct, frozen=True, kw_only=True):
    item_name: str = ""


class CaseAccepted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    item_code: str = ""
    item_name: str = ""
    applicant_name: str = ""
    approving_department: str = ""
    point_name: str = ""
    accepted_at: datetime
    cross_province: bool = False
    jurisdiction: str = ""
    materials: list[Material] = []
    children: list[Child] = []


class HandedOver(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    jurisdiction: str = ""
    handed_over_at: datetime
    method: str = ""
    tracking_no: str = ""


class ClockStarted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str = ""
    purpose: str = ""
    promised_deadline: datetime | None = None


class ClockAlerted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    clock_id: str = ""
    purpose: str = ""
    level: str
    deadline: datetime | None = None
    fired_at: datetime


class CaseCompleted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    result: str
    completed_at: datetime


# ---------------------------------------------------------------- what the gateway publishes (routing reads them)


class SendHandover(msgspec.Struct, frozen=True, kw_only=True):
    """跨省通办: the clerk sent the case (routing.commands); routing answers with ``HandedOver``."""

    version: ClassVar[int] = 1
    method: str
    tracking_no: str
    materials: list[Material] = []
    department: str = ""


class HandoverReceived(msgspec.Struct, frozen=True, kw_only=True):
    """The other jurisdiction's receipt (external.events), from its platform or an operator's entry."""

    version: ClassVar[int] = 1
    case_no: str
    jurisdiction: str
    external_case_no: str = ""
    receiver: str = ""
    received_at: datetime
    reference: str = ""


class ExternalResult(msgspec.Struct, frozen=True, kw_only=True):
    """The other jurisdiction's decision (external.events), from its platform or an operator's entry."""

    version: ClassVar[int] = 1
    case_no: str
    jurisdiction: str
    result: str
    opinion: str = ""
    decided_at: datetime
    reference: str = ""
    licence_name: str = ""
    licence_no: str = ""
