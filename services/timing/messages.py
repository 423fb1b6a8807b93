"""What timing consumes (its own views of intake's and routing's events) and publishes."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import msgspec

Unit = Literal["WD", "WH", "ND", "NH"]


class LimitIn(msgspec.Struct, frozen=True):
    value: float
    unit: Unit


class CaseAccepted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    promised_limit: LimitIn
    statutory_limit: LimitIn
    accepted_at: datetime


class CaseCompleted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    completed_at: datetime


class ClockStarted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    started_at: datetime
    promised_deadline: datetime
    # None when the calendar does not reach the statutory deadline's year yet; the reason says which year.
    statutory_deadline: datetime | None
    statutory_note: str = ""


class ClockStopped(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    stopped_at: datetime
    promised_deadline: datetime
    on_time: bool


class ClockRefused(msgspec.Struct, frozen=True, kw_only=True):
    """The calendar lacks a year the clock needs: an operator must load it."""

    version: ClassVar[int] = 1
    case_no: str
    reason: str
    year: int
