"""The desk's own views of intake's and timing's events (only the fields the dossier reads)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import msgspec


class Limit(msgspec.Struct, frozen=True):
    value: float
    unit: str


class Material(msgspec.Struct, frozen=True):
    code: str
    name: str


class ReusedMaterial(msgspec.Struct, frozen=True):
    code: str
    name: str
    case_no: str


class ChildCase(msgspec.Struct, frozen=True, kw_only=True):
    case_no: str
    item_code: str
    item_name: str
    department: str
    stage: int = 1
    stage_name: str = ""
    promised_limit: Limit


class CaseAccepted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    item_code: str
    item_name: str
    item_version: str = ""
    case_type: int = 2
    promised_limit: Limit
    statutory_limit: Limit
    applicant_name: str
    applicant_id_type: str = ""
    applicant_id_number: str = ""
    channel: str = "window"
    accepted_at: datetime
    owner: str = ""
    owner_name: str = ""
    point: str = ""
    point_name: str = ""
    point_level: int = 4
    approving_department: str = ""
    approving_level: int = 4
    cross_province: bool = False
    jurisdiction: str = ""
    materials: list[Material] = []
    reused_materials: list[ReusedMaterial] = []
    deferred: bool = False
    owed_materials: list[Material] = []
    supplement_limit: Limit | None = None
    commitment: bool = False
    children: list[ChildCase] = []
    agent_name: str = ""
    agent_id_type: str = ""
    agent_id_number: str = ""  # sealed
    agent_relation: str = ""
    helper_name: str = ""


class CaseRefused(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    item_code: str
    item_name: str
    applicant_name: str
    applicant_id_type: str = ""
    applicant_id_number: str = ""
    reason: str
    owner: str = ""
    owner_name: str = ""
    point: str = ""
    point_name: str = ""
    channel: str = "window"
    refused_at: datetime
    agent_name: str = ""
    agent_id_type: str = ""
    agent_id_number: str = ""  # sealed
    agent_relation: str = ""


class MissingMaterial(msgspec.Struct, frozen=True):
    code: str
    name: str
    reason: str


class OneTimeNoticeIssued(msgspec.Struct, frozen=True, kw_only=True):
    """一次告知: intake's numbered 一次性告知书 of an incomplete application."""

    version: ClassVar[int] = 1
    notice_no: str
    item_code: str
    item_name: str
    applicant_name: str
    applicant_id_type: str = ""
    applicant_id_number: str = ""  # sealed
    missing: list[MissingMaterial]
    reused: list[ReusedMaterial] = []
    owner: str = ""
    owner_name: str = ""
    point: str = ""
    point_name: str = ""
    channel: str = "window"
    issued_at: datetime
    agent_name: str = ""
    agent_id_type: str = ""
    agent_id_number: str = ""  # sealed
    agent_relation: str = ""
    helper_name: str = ""


class MaterialsSupplemented(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    materials: list[Material] = []
    remaining: list[Material] = []
    complete: bool


class CaseSuspended(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    reason: str
    notice: str = ""
    suspended_at: datetime


class ClockStarted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    clock_id: str = ""
    purpose: str = "办件"
    step_id: str = ""
    promised_deadline: datetime
    provisional: bool = False  # 暂定: it rests on a year without an official holiday schedule yet
    provisional_years: list[int] = []


class ClockResumed(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    clock_id: str
    purpose: str
    step_id: str = ""
    promised_deadline: datetime
    provisional: bool = False
    provisional_years: list[int] = []


class ClockExtended(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    clock_id: str
    purpose: str
    step_id: str = ""
    promised_deadline: datetime
    provisional: bool = False
    provisional_years: list[int] = []


class DeadlineRevised(msgspec.Struct, frozen=True, kw_only=True):
    """The official schedule of ``year`` was loaded: the clock's provisional deadline was recomputed."""

    version: ClassVar[int] = 1
    clock_id: str
    purpose: str
    step_id: str = ""
    year: int
    old_promised_deadline: datetime
    promised_deadline: datetime
    provisional: bool = False  # still provisional for another year
    provisional_years: list[int] = []


class ClockRefused(msgspec.Struct, frozen=True, kw_only=True):
    """No longer published (timing computes a provisional deadline instead); old records are read but not shown."""

    version: ClassVar[int] = 1
    clock_id: str = ""
    purpose: str = "办件"
