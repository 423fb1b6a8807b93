"""The gateway's views of intake's events (``intake.events``): acceptances, refusals, 一次告知, 容缺, 预审, projects."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import msgspec


class Limit(msgspec.Struct, frozen=True):
    """A time limit (promised, statutory, 容缺, a project's budget; routing's and timing's limits too)."""

    value: float
    unit: str


class Material(msgspec.Struct, frozen=True):
    code: str
    name: str = ""


class ReusedMaterial(msgspec.Struct, frozen=True):
    code: str
    name: str
    case_no: str


class MissingMaterial(msgspec.Struct, frozen=True):
    code: str
    name: str
    reason: str


class ChildCase(msgspec.Struct, frozen=True, kw_only=True):
    """One item of a 一件事 bundle, with its own case no."""

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
    departments: list[str]
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
    project_code: str = ""
    project_stage: int = 0


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
    materials: list[Material]
    remaining: list[Material] = []
    complete: bool


class CaseSuspended(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    reason: str
    notice: str = ""
    suspended_at: datetime


# ---------------------------------------------------------------- 工程建设 projects (services/intake/projects.py)


class ProjectStageOut(msgspec.Struct, frozen=True, kw_only=True):
    stage: int
    bundle_code: str
    name: str
    promised_limit: Limit
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
    budget: Limit
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


# ---------------------------------------------------------------- 预审 of kiosk, web and mobile submissions


class Applicant(msgspec.Struct, frozen=True):
    name: str
    id_type: str
    id_number: str  # sealed


class Application(msgspec.Struct, frozen=True):
    applicant: Applicant
    materials: list[str] = []
    deferral_signed: bool = False
    commitment_signed: bool = False


class ApplicationPreSubmitted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    prereview_no: str
    item_code: str
    item_name: str
    application: Application
    point: str
    point_name: str
    channel: str
    checks: list[str] = []
    missing: list[MissingMaterial] = []
    submitted_at: datetime


class PreReviewed(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    prereview_no: str
    outcome: str
    reviewer: str = ""
    reviewer_name: str = ""
    reviewed_at: datetime
    case_no: str = ""
    notice_no: str = ""
    reason: str = ""
    missing: list[MissingMaterial] = []
