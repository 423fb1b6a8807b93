"""What routing consumes and publishes. ``CaseAccepted`` is routing's own view of intake's event."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import msgspec

Action = Literal["通过", "不予许可"]
Result = Literal["准予", "不予"]


class CaseAccepted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    item_name: str
    departments: list[str]


class DecideStep(msgspec.Struct, frozen=True, kw_only=True):
    """Back-office staff decide a step; ``department`` is the acting staff's own department."""

    version: ClassVar[int] = 1
    step_id: str
    action: Action
    opinion: str
    department: str


class RecordDelivery(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    method: Literal["窗口", "邮寄"]


class StepOpened(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    step_id: str
    step_name: str
    department: str
    item_name: str
    opened_at: datetime


class StepDecided(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    step_id: str
    step_name: str
    department: str
    action: Action
    opinion: str
    decided_at: datetime


class CaseCompleted(msgspec.Struct, frozen=True, kw_only=True):
    """办结: every step is decided; the result waits at the unified window (统一窗口出件)."""

    version: ClassVar[int] = 1
    case_no: str
    result: Result
    completed_at: datetime


class CaseDelivered(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    method: Literal["窗口", "邮寄"]
    delivered_at: datetime
