"""The SLA board's own views of timing's clock events (only the fields it reads; defaults where older events
may lack one)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import msgspec


class ClockStarted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    started_at: datetime
    promised_deadline: datetime
    statutory_deadline: datetime | None = None
    clock_id: str = ""
    purpose: str = "办件"
    step_id: str = ""
    step_name: str = ""
    department: str = ""
    item_code: str = ""
    item_name: str = ""
    owner: str = ""
    owner_name: str = ""
    warning_at: datetime | None = None
    provisional: bool = False  # 暂定: the deadline or warning time rests on a year without an official schedule
    provisional_years: list[int] = []


class ClockPaused(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    clock_id: str
    reason: str = ""
    paused_at: datetime


class ClockResumed(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    clock_id: str
    promised_deadline: datetime
    statutory_deadline: datetime | None = None
    warning_at: datetime | None = None
    provisional: bool = False
    provisional_years: list[int] = []


class ClockExtended(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    clock_id: str
    promised_deadline: datetime
    statutory_deadline: datetime | None = None
    warning_at: datetime | None = None
    provisional: bool = False
    provisional_years: list[int] = []


class ClockAlerted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    clock_id: str
    level: str
    deadline: datetime


class ClockStopped(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    stopped_at: datetime
    promised_deadline: datetime
    on_time: bool
    clock_id: str = ""
    outcome: str = ""  # 退件: not counted on time or overdue


class DeadlineRevised(msgspec.Struct, frozen=True, kw_only=True):
    """The official schedule of ``year`` replaced the provisional calendar: the clock's times, recomputed."""

    version: ClassVar[int] = 1
    clock_id: str
    year: int
    old_promised_deadline: datetime
    promised_deadline: datetime
    warning_at: datetime | None = None
    statutory_deadline: datetime | None = None
    status_before: str = "正常"
    status_after: str = "正常"
    retracted: list[str] = []  # alert levels raised under the provisional dates that are no longer due
    provisional: bool = False
    provisional_years: list[int] = []
    revised_at: datetime


class CalendarLoaded(msgspec.Struct, frozen=True, kw_only=True):
    """An operator loaded a year's official working calendar: deadlines in that year are no longer provisional."""

    version: ClassVar[int] = 1
    year: int
