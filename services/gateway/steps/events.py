"""The gateway's own views of routing's step events, for the departments' inboxes."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import msgspec


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
    step_id: str
    action: str
    opinion: str
    decided_at: datetime
