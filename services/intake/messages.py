"""What intake consumes and publishes. Other services keep their own copies of the fields they read."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import msgspec

Channel = Literal["window", "kiosk", "web", "mobile"]
Unit = Literal["WD", "WH", "ND", "NH"]
IdType = Literal["居民身份证", "统一社会信用代码", "其他"]


class Applicant(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    id_type: IdType
    id_number: str
    phone: str = ""


class Agent(msgspec.Struct, frozen=True, kw_only=True):
    """代理人: acts for the applicant, who stays the party; the ID number and phone come sealed (shared.pii)."""

    name: str
    id_type: IdType
    id_number: str
    relation: str
    phone: str = ""


class LimitOut(msgspec.Struct, frozen=True):
    value: float
    unit: Unit


# ---------------------------------------------------------------- commands


class SubmitApplication(msgspec.Struct, frozen=True, kw_only=True):
    """申报: an application for a catalogue item or 一件事, from a window clerk, a kiosk or the web.

    ``point`` is where it is handed in; ``deferral_signed`` the applicant signed a 容缺承诺书 (accept now, bring
    the 容缺 materials by ``supplement_limit``); ``commitment_signed`` a 告知承诺书 stands in for the proofs that
    allow it; a non-empty ``refusal_reason`` is the clerk's 不予受理 (the item's 受理条件 are not met).
    """

    version: ClassVar[int] = 1
    item_code: str
    applicant: Applicant
    materials: list[str]
    channel: Channel = "window"
    point: str = "hall"
    deferral_signed: bool = False
    supplement_limit: LimitOut | None = None
    commitment_signed: bool = False
    refusal_reason: str = ""
    # 代理人: a named agent makes the 授权委托书 a required material; the applicant stays the party on notices.
    agent: Agent | None = None
    helper_name: str = ""  # 帮办代办: the staff helper who assists the applicant
    # 工程建设: the registered project (项目代码) whose stage this application is (the item is the stage's bundle).
    project_code: str = ""


class RegisterProject(msgspec.Struct, frozen=True, kw_only=True):
    """工程建设项目登记: a project is registered once, by a window clerk, before its first stage is applied for.

    ``project_code`` is the 项目代码 the investment project platform gave the builder (建设单位, with its 统一社会
    信用代码); ``project_type`` a type of the catalogue's ``[[projects]]``, which decides the stages."""

    version: ClassVar[int] = 1
    project_code: str
    name: str
    builder: str
    builder_uscc: str
    location: str
    project_type: str


class SupplementMaterials(msgspec.Struct, frozen=True, kw_only=True):
    """补齐: the applicant brings 容缺 materials owed by an accepted case."""

    version: ClassVar[int] = 1
    materials: list[str]


# ---------------------------------------------------------------- events


class Material(msgspec.Struct, frozen=True):
    code: str
    name: str


class ReusedMaterial(msgspec.Struct, frozen=True):
    """材料复用: counted as provided because it is on file from an earlier case of the same applicant."""

    code: str
    name: str
    case_no: str


class ChildCase(msgspec.Struct, frozen=True, kw_only=True):
    """子件: one item of a 一件事, handled by its own department on its own clock."""

    case_no: str
    item_code: str
    item_name: str
    department: str
    stage: int  # stages run in order; the children of one stage run in parallel
    stage_name: str
    promised_limit: LimitOut
    statutory_limit: LimitOut
    co_departments: list[str] = []
    scope: str = ""
    key: str = ""  # the catalogue part's key
    needs: list[str] = []  # 前后置: the keys of the children whose grant this one needs (it waits for them)


class CaseAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """受理: the case is numbered and owned by the accepting clerk (首问负责)."""

    version: ClassVar[int] = 1
    case_no: str
    item_code: str
    item_name: str
    item_version: str  # the effective date of the catalogue version the case keeps
    departments: list[str]
    case_type: int
    statutory_limit: LimitOut
    promised_limit: LimitOut
    applicant_name: str
    applicant_id_type: str
    applicant_id_number: str
    channel: Channel
    accepted_at: datetime
    owner: str  # 首问负责: the accepting clerk
    owner_name: str
    point: str
    point_name: str
    point_level: int
    approving_department: str
    approving_department_uscc: str
    approving_level: int
    co_departments: list[str] = []
    countersign: bool = False  # the co_departments 会签 before 决定 (the item's catalogue entry)
    scope: str = ""
    # 跨省通办: the applicant belongs to another province, which decides; the hall only receives (代收代办).
    cross_province: bool = False
    jurisdiction: str = ""
    # 跨省通办: the catalogue's limit, on the day of acceptance, for our part (check and send); timing's case clock.
    handover_limit: LimitOut | None = None
    special_procedures: list[str] = []
    materials: list[Material] = []  # received at the window (or reused)
    reused_materials: list[ReusedMaterial] = []
    deferred: bool = False  # 容缺受理
    owed_materials: list[Material] = []
    supplement_limit: LimitOut | None = None
    commitment: bool = False  # 告知承诺
    children: list[ChildCase] = []
    applicant_phone: str = ""  # sealed (shared.pii): for the notices routing sends the applicant
    # 代理人 (the ID number sealed) and 帮办代办's helper; empty when the applicant came alone.
    agent_name: str = ""
    agent_id_type: str = ""
    agent_id_number: str = ""
    agent_relation: str = ""
    helper_name: str = ""
    # 工程建设: the project (项目代码) and the 1-based stage this case is; "" and 0 for any other case.
    project_code: str = ""
    project_stage: int = 0


class CaseRefused(msgspec.Struct, frozen=True, kw_only=True):
    """不予受理: the application is refused with a written reason (不予受理通知书)."""

    version: ClassVar[int] = 1
    case_no: str
    item_code: str
    item_name: str
    applicant_name: str
    applicant_id_type: str
    applicant_id_number: str
    reason: str
    owner: str
    owner_name: str
    point: str
    point_name: str
    channel: Channel
    refused_at: datetime
    agent_name: str = ""
    agent_id_type: str = ""
    agent_id_number: str = ""  # sealed
    agent_relation: str = ""


class OneTimeNoticeIssued(msgspec.Struct, frozen=True, kw_only=True):
    """一次告知: an incomplete application is answered with a numbered 一次性告知书 listing every missing material
    and why; nothing is accepted and no clock runs (waiting for 补正 does not count)."""

    version: ClassVar[int] = 1
    notice_no: str
    item_code: str
    item_name: str
    applicant_name: str
    applicant_id_type: str
    applicant_id_number: str  # sealed
    missing: list[MissingMaterial]
    reused: list[ReusedMaterial] = []
    owner: str
    owner_name: str
    point: str
    point_name: str
    channel: Channel
    issued_at: datetime
    agent_name: str = ""
    agent_id_type: str = ""
    agent_id_number: str = ""  # sealed
    agent_relation: str = ""
    helper_name: str = ""


class ClockRequested(msgspec.Struct, frozen=True, kw_only=True):
    """Asks timing for a deadline: the 补齐 period of a 容缺 case, capped by ``not_after`` (None: timing caps it
    by the case's promised deadline)."""

    version: ClassVar[int] = 1
    clock_id: str
    purpose: str
    case_no: str
    department: str
    starts_at: datetime
    limit: LimitOut
    not_after: datetime | None = None


class ClockWithdrawn(msgspec.Struct, frozen=True, kw_only=True):
    """The clock intake asked for is no longer needed (the 容缺 materials are complete)."""

    version: ClassVar[int] = 1
    clock_id: str
    purpose: str
    case_no: str
    withdrawn_at: datetime


class MaterialsSupplemented(msgspec.Struct, frozen=True, kw_only=True):
    """补齐: materials brought for a 容缺 case; ``complete`` once nothing is owed (the result may be handed out)."""

    version: ClassVar[int] = 1
    case_no: str
    materials: list[Material]
    remaining: list[Material]
    complete: bool
    supplemented_at: datetime


class CaseSuspended(msgspec.Struct, frozen=True, kw_only=True):
    """中止: the 补齐 deadline of a 容缺 case passed with materials still owed; ``notice`` is what the applicant
    is told."""

    version: ClassVar[int] = 1
    case_no: str
    reason: str
    owed_materials: list[Material]
    notice: str
    suspended_at: datetime


class ProjectStageOut(msgspec.Struct, frozen=True, kw_only=True):
    """One stage of a registered project: its bundle, name and promised limit, as the catalogue had them."""

    stage: int
    bundle_code: str
    name: str
    promised_limit: LimitOut
    reuses: list[str] = []


class ProjectRegistered(msgspec.Struct, frozen=True, kw_only=True):
    """工程建设项目已登记: the project, its builder, its type's stages in order and the approval budget."""

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
    """A licence (批复) an item of a stage issued: reused as a material by the later stages."""

    item_name: str
    licence_name: str
    licence_no: str
    case_no: str


class ProjectStageCompleted(msgspec.Struct, frozen=True, kw_only=True):
    """A stage of a project is 办结: 准予 opens the next stage, with ``licences`` on file for it (材料复用)."""

    version: ClassVar[int] = 1
    project_code: str
    stage: int
    case_no: str
    result: str
    reasons: list[str] = []
    completed_at: datetime
    licences: list[StageLicence] = []


# ---------------------------------------------------------------- intake's views of other services' events


class ClockAlerted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    clock_id: str
    purpose: str
    level: str
    fired_at: datetime | None = None


class ItemResult(msgspec.Struct, frozen=True, kw_only=True):
    case_no: str
    item_name: str
    result: str
    licence_name: str = ""
    licence_no: str = ""


class CaseCompleted(msgspec.Struct, frozen=True, kw_only=True):
    """Routing's 办结 of a case: intake reads it for the stages of 工程建设 projects."""

    version: ClassVar[int] = 1
    case_no: str
    result: str
    reasons: list[str] = []
    completed_at: datetime
    items: list[ItemResult] = []


# ---------------------------------------------------------------- replies


class MissingMaterial(msgspec.Struct, frozen=True):
    code: str
    name: str
    reason: str


class ApplicationOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """The reply to the clerk: the case number, everything missing at once (一次告知), or 不予受理 and why."""

    outcome: Literal["受理", "待补正", "不予受理"]
    case_id: str
    case_no: str = ""
    item_code: str = ""
    item_name: str = ""
    reason: str = ""
    missing: list[MissingMaterial] = []
    reused: list[ReusedMaterial] = []
    deferred: bool = False
    owed: list[Material] = []
    supplement_limit: LimitOut | None = None
    commitment: bool = False
    promised_limit: LimitOut | None = None
    point_name: str = ""
    children: list[ChildCase] = []
    notice_no: str = ""  # 一次告知: the 一次性告知书's number
    project_code: str = ""  # 工程建设: the project and stage the case is
    project_stage: int = 0


class ProjectOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """The reply to a project's registration: its code, type and stages in order."""

    project_code: str
    name: str
    project_type: str
    type_name: str
    stages: list[ProjectStageOut]
    budget: LimitOut


class SupplementOutcome(msgspec.Struct, frozen=True, kw_only=True):
    case_no: str
    received: list[Material]
    remaining: list[Material]
    complete: bool


# ---------------------------------------------------------------- 预审: kiosk, web and mobile submissions


class ReviewPreSubmission(msgspec.Struct, frozen=True, kw_only=True):
    """A window clerk's 预审 of a machine or online submission: 受理 (the window's rules decide: 受理 or 待补正),
    一次告知 (``missing``: materials the clerk finds lacking, with ``reason``) or 不予受理 (``reason``)."""

    version: ClassVar[int] = 1
    prereview_no: str
    action: Literal["受理", "一次告知", "不予受理"]
    reason: str = ""
    missing: list[str] = []


class ApplicationPreSubmitted(msgspec.Struct, frozen=True, kw_only=True):
    """待预审: a kiosk, web or mobile submission waits for a person's 预审; nothing is accepted yet (no case number,
    no clock). ``application`` is the command as submitted (ID number and phone sealed)."""

    version: ClassVar[int] = 1
    prereview_no: str
    item_code: str
    item_name: str
    application: SubmitApplication
    point: str
    point_name: str
    channel: Channel
    checks: list[str]
    missing: list[MissingMaterial] = []  # what the checklist finds lacking, for the clerk to confirm
    submitted_at: datetime


class PreReviewed(msgspec.Struct, frozen=True, kw_only=True):
    """The 预审 is over: 受理 (``case_no``), 待补正 (``notice_no``, ``missing``) or 不予受理 (``case_no`` of the
    notice, ``reason``), by ``reviewer``."""

    version: ClassVar[int] = 1
    prereview_no: str
    outcome: Literal["受理", "待补正", "不予受理"]
    reviewer: str
    reviewer_name: str
    reviewed_at: datetime
    case_no: str = ""
    notice_no: str = ""
    reason: str = ""
    missing: list[MissingMaterial] = []


class PreReviewOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """The reply to a kiosk, web or mobile submission: 待预审, its number and what a person will check."""

    outcome: Literal["待预审"] = "待预审"
    case_id: str
    prereview_no: str
    item_code: str
    item_name: str
    point_name: str
    checks: list[str]
    missing: list[MissingMaterial] = []
