"""The gateway's views of timing's events (``timing.events``): every clock (a case's, a step's, a return's limit,
a handover's) and the working calendar. A step clock's id is the step id."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

import msgspec

from services.gateway.views.intake import Limit


class ClockStarted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    started_at: datetime
    promised_deadline: datetime
    statutory_deadline: datetime | None = None
    clock_id: str = ""
    purpose: str = "办件"  # 环节 for a step clock; 退回补正 for a return's limit (its id starts with the step id)
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
    hall: str = ""  # the hall whose office hours the clock runs in (data/halls.toml)


class ClockPaused(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    clock_id: str
    purpose: str = "办件"
    step_id: str = ""
    reason: str = ""
    paused_at: datetime


class ClockResumed(msgspec.Struct, frozen=True, kw_only=True):
    """The clock runs again; its deadline moved by the paused working time."""

    version: ClassVar[int] = 1
    clock_id: str
    purpose: str
    case_no: str
    step_id: str = ""
    promised_deadline: datetime
    deadline: datetime | None = None
    statutory_deadline: datetime | None = None
    warning_at: datetime | None = None
    provisional: bool = False
    provisional_years: list[int] = []


class ClockExtended(msgspec.Struct, frozen=True, kw_only=True):
    """延长 approved: the clock's deadline moved later."""

    version: ClassVar[int] = 1
    clock_id: str
    purpose: str
    case_no: str
    step_id: str = ""
    limit: Limit
    promised_deadline: datetime
    deadline: datetime | None = None
    statutory_deadline: datetime | None = None
    warning_at: datetime | None = None
    provisional: bool = False
    provisional_years: list[int] = []


class ClockAlerted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    clock_id: str
    purpose: str = "办件"
    step_id: str = ""
    level: str
    deadline: datetime
    fired_at: datetime


class ClockStopped(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    clock_id: str = ""
    purpose: str = "办件"
    stopped_at: datetime
    promised_deadline: datetime
    on_time: bool
    reason: str = ""
    outcome: str = ""  # 退件: stopped without a decision, neither on time nor overdue
    used: float | None = None


class ClockRefused(msgspec.Struct, frozen=True, kw_only=True):
    """No longer published (timing computes a provisional deadline instead); old records are read but not shown."""

    version: ClassVar[int] = 1
    clock_id: str = ""
    purpose: str = "办件"


class DeadlineRevised(msgspec.Struct, frozen=True, kw_only=True):
    """The official schedule of ``year`` replaced the provisional calendar: the clock's times, recomputed."""

    version: ClassVar[int] = 1
    clock_id: str
    purpose: str
    case_no: str
    step_id: str = ""
    year: int
    old_promised_deadline: datetime
    promised_deadline: datetime
    warning_at: datetime | None = None
    statutory_deadline: datetime | None = None
    status_before: str = "正常"
    status_after: str = "正常"
    retracted: list[str] = []  # alert levels raised under the provisional dates that are no longer due
    provisional: bool = False  # still provisional for another year
    provisional_years: list[int] = []
    revised_at: datetime


# ClockResumed, ClockExtended and DeadlineRevised: the clock's deadline moved.
ClockMoved = ClockResumed | ClockExtended | DeadlineRevised


class CalendarLoaded(msgspec.Struct, frozen=True, kw_only=True):
    """An operator loaded a year's official working calendar: deadlines in that year are no longer provisional."""

    version: ClassVar[int] = 1
    year: int
    # The year's working days (the SLA board's remaining working time reckons with them).
    holidays: list[date] = []
    local_holidays: list[date] = []
    workdays: list[date] = []
