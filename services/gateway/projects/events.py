"""The project pages' own views of intake's and timing's events (services/intake/projects.py publishes the first)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import msgspec


class LimitOut(msgspec.Struct, frozen=True):
    value: float
    unit: str


class ProjectStageOut(msgspec.Struct, frozen=True, kw_only=True):
    stage: int
    bundle_code: str
    name: str
    promised_limit: LimitOut
    reuses: list[str] = []


class ProjectRegistered(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    project_code: str
    name: str
    builder: str
    builder_uscc: str
    location: str
    project_type: str
    type_name: str
    stages: list[ProjectStageOut]
    budget: LimitOut
    registered_at: datetime
    registered_by: str
    registered_by_name: str
    point: str = ""


class StageLicence(msgspec.Struct, frozen=True, kw_only=True):
    item_name: str
    licence_name: str
    licence_no: str
    case_no: str


class ProjectStageCompleted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    project_code: str
    stage: int
    case_no: str
    result: str
    reasons: list[str] = []
    completed_at: datetime
    licences: list[StageLicence] = []


class CaseAccepted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    item_code: str
    accepted_at: datetime
    project_code: str = ""
    project_stage: int = 0


class ClockStarted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    started_at: datetime
    promised_deadline: datetime
    purpose: str = "办件"
    item_code: str = ""


class ClockStopped(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    stopped_at: datetime
    on_time: bool
    purpose: str = "办件"
    used: float | None = None


class ClockMoved(msgspec.Struct, frozen=True, kw_only=True):
    """ClockResumed, ClockExtended and DeadlineRevised: the case clock's deadline moved."""

    version: ClassVar[int] = 1
    case_no: str
    purpose: str = "办件"
    promised_deadline: datetime


class ClockResumed(ClockMoved, frozen=True, kw_only=True):
    """The case clock's pause ended: its deadline moved later."""


class ClockExtended(ClockMoved, frozen=True, kw_only=True):
    """延长 approved: the case clock's deadline moved later."""


class DeadlineRevised(ClockMoved, frozen=True, kw_only=True):
    """A year's official schedule replaced its provisional calendar: the deadline was recomputed."""
