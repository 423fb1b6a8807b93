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


class StepOpened(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_name: str
    department: str


class StepDecided(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_name: str
    department: str
    action: str
    opinion: str


class CaseCompleted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    result: str


class CaseDelivered(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    method: str


class ClockStarted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    promised_deadline: datetime


class ClockStopped(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    on_time: bool


class ClockRefused(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    reason: str


class RatingRecorded(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    level: str
    channel: str
