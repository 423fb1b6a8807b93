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


class ItemResult(msgspec.Struct, frozen=True, kw_only=True):
    """One item's own result (each child of a bundle), with the licence its 决定 issued."""

    case_no: str
    item_code: str = ""
    item_name: str
    department: str = ""
    result: str
    reason: str = ""
    licence_name: str = ""
    licence_no: str = ""
    validity: str = ""


class CaseCompleted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    result: str
    reasons: list[str] = []
    completed_at: datetime
    items: list[ItemResult] = []  # cases completed before 2026-11-30 lack them


class CaseDelivered(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    method: str
    address: str = ""
    delivered_at: datetime
    items: list[ItemResult] = []
