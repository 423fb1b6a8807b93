"""The delivery desk's own views of intake's and routing's events: what was decided, and what is still owed."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import msgspec


class Material(msgspec.Struct, frozen=True):
    code: str
    name: str = ""


class CaseAccepted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    item_name: str
    applicant_name: str = ""
    owed_materials: list[Material] = []


class MaterialsSupplemented(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    materials: list[str | Material] = []
    complete: bool = False


class CaseCompleted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    result: str
    reasons: list[str] = []
    completed_at: datetime


class CaseDelivered(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    method: str
    address: str = ""
    delivered_at: datetime
