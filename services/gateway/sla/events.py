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


class ClockExtended(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    clock_id: str
    promised_deadline: datetime
    statutory_deadline: datetime | None = None
    warning_at: datetime | None = None


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
