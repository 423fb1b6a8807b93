"""What routing consumes and publishes.

Views of other services' events (``CaseAccepted``, ``MaterialsSupplemented``, ``CaseSuspended`` from intake,
``ClockAlerted`` from timing, ``HandoverReceived``/``ExternalResult`` from the other jurisdiction) hold only the
fields routing reads, with defaults where an older event may lack one. Commands come from the gateway; every
command names the acting staff's own ``department`` (and ``role``, where it matters), the envelope names the
person.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import msgspec

Unit = Literal["WD", "WH", "ND", "NH"]
Action = Literal["通过", "退回", "不予许可"]
Result = Literal["准予", "不予"]
ChildResult = Literal["准予", "不予", "终止"]
SpecialKind = Literal["听证", "招标", "拍卖", "检验", "检测", "检疫", "鉴定", "专家评审"]
DeliveryMethod = Literal["窗口", "邮寄"]
HandoverMethod = Literal["电子推送", "邮寄原件"]
NoticeKind = Literal["延长审批期限", "特别程序", "退件", "不予办理"]
STEP_NAMES = ("承办", "审核", "决定")


class Limit(msgspec.Struct, frozen=True):
    """A time limit as the catalogue writes it; timing owns what it means in working time."""

    value: float
    unit: Unit


# ---------------------------------------------------------------- views of intake's events


class Material(msgspec.Struct, frozen=True):
    code: str
    name: str = ""


class Child(msgspec.Struct, frozen=True, kw_only=True):
    """One item of a bundle (一件事): its own case no, department and limits; ``stage`` orders 工程建设."""

    case_no: str
    item_code: str
    item_name: str
    department: str
    stage: int = 1
    promised_limit: Limit
    statutory_limit: Limit | None = None
    key: str = ""  # the catalogue part's key (``needs`` names it)
    needs: list[str] = []  # 前后置: the keys of the children whose grant this one needs


class CaseAccepted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    item_code: str = ""
    item_name: str
    departments: list[str]
    promised_limit: Limit = Limit(0, "WD")
    children: list[Child] = []
    owed_materials: list[Material] = []
    point: str = ""
    point_level: int = 4
    approving_department: str = ""
    cross_province: bool = False
    jurisdiction: str = ""
    applicant_name: str = ""
    applicant_phone: str = ""  # sealed (shared.pii), as intake had it from the gateway; "" when none was given
    co_departments: list[str] = []  # 共同实施部门 of a single item
    countersign: bool = False  # the item's catalogue entry has its co-departments 会签 before 决定


class MaterialsSupplemented(msgspec.Struct, frozen=True, kw_only=True):
    """补正/补齐: ``materials`` are codes (or code+name objects); ``complete`` when nothing is owed any more."""

    version: ClassVar[int] = 1
    case_no: str = ""
    materials: list[str | Material] = []
    complete: bool = False


class CaseSuspended(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str = ""
    reason: str = ""


# ---------------------------------------------------------------- views of timing's and the other jurisdiction's


class ClockAlerted(msgspec.Struct, frozen=True, kw_only=True):
    """Timing's alert on a clock; for a step clock ``clock_id`` is the step id."""

    version: ClassVar[int] = 1
    clock_id: str
    purpose: str = ""  # 环节 for a step clock; 退回补正 / 容缺中止 for the limits that end in 退件
    step_id: str = ""
    level: str
    deadline: datetime | None = None
    fired_at: datetime


class HandoverReceived(msgspec.Struct, frozen=True, kw_only=True):
    """The other jurisdiction has received a 跨省通办 case (published on ``external.events``)."""

    version: ClassVar[int] = 1
    case_no: str
    jurisdiction: str
    external_case_no: str = ""
    receiver: str = ""
    received_at: datetime
    reference: str = ""  # the other platform's own reference of this message (their idempotency key)


class ExternalResult(msgspec.Struct, frozen=True, kw_only=True):
    """The other jurisdiction's decision on a 跨省通办 case (published on ``external.events``)."""

    version: ClassVar[int] = 1
    case_no: str
    jurisdiction: str
    result: Result
    opinion: str = ""
    decided_at: datetime
    reference: str = ""  # the other platform's own reference of this message (their idempotency key)
    licence_name: str = ""  # 准予: the licence the other jurisdiction issued, handed out at our window
    licence_no: str = ""


# ---------------------------------------------------------------- commands (routing.commands)


class ClaimStep(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    department: str


class DecideStep(msgspec.Struct, frozen=True, kw_only=True):
    """通过 / 退回 (for supplement: ``materials`` lists what is missing) / 不予许可 (``opinion`` gives the reasons)."""

    version: ClassVar[int] = 1
    step_id: str
    action: Action
    opinion: str
    department: str
    materials: list[str] = []
    # 决定 准予: the licence issued (证照名称 defaults to the catalogue's; 证照编号 required where it names one)
    licence_name: str = ""
    licence_no: str = ""
    validity: str = ""  # 有效期, as the licence states it (e.g. 长期, 2031-12-31)


class ResumeStep(msgspec.Struct, frozen=True, kw_only=True):
    """Staff resume a step returned for supplement (the applicant brought the materials to the window)."""

    version: ClassVar[int] = 1
    step_id: str
    department: str
    opinion: str = ""


class ReassignStep(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    department: str
    role: str = "staff"
    to_id: str
    to_name: str
    to_department: str
    reason: str = ""


class StartSpecialProcedure(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    department: str
    kind: SpecialKind
    reason: str


class EndSpecialProcedure(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    department: str
    result: str


class RequestExtension(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    department: str
    extension: Limit
    reason: str


class DecideExtension(msgspec.Struct, frozen=True, kw_only=True):
    """A supervisor (``role`` supervisor of the step's department) approves or rejects a pending 延长."""

    version: ClassVar[int] = 1
    step_id: str
    department: str
    role: str
    approve: bool
    opinion: str = ""


class RecordDelivery(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    method: DeliveryMethod
    address: str = ""


# ---------------------------------------------------------------- events (routing.events)


class Prerequisite(msgspec.Struct, frozen=True, kw_only=True):
    """一件事的前后置: a granted prerequisite's result, passed on to the child that needed it."""

    case_no: str  # the prerequisite child's case no
    item_name: str
    department: str
    licence_name: str = ""
    licence_no: str = ""
    validity: str = ""


class StepOpened(msgspec.Struct, frozen=True, kw_only=True):
    """A step (承办 / 审核 / 决定, ``seq`` 1..3) is in its department's inbox; ``limit`` runs its step clock."""

    version: ClassVar[int] = 1
    case_no: str
    step_id: str
    step_name: str
    seq: int
    department: str
    item_code: str
    item_name: str
    item_case_no: str  # the child's case no in a bundle, the case's own otherwise
    stage: int
    limit: Limit
    point: str = ""  # the town or village point that accepted the case, when it was routed up (就近办)
    opened_at: datetime
    countersign: bool = False  # a co-department's 会签 step (joins the 审核 before 决定)
    prerequisites: list[Prerequisite] = []  # 前后置: the results of the children this one needed


class StepClaimed(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    step_id: str
    step_name: str
    department: str
    assignee_id: str
    assignee_name: str
    claimed_at: datetime


class StepReassigned(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    step_id: str
    step_name: str
    department: str
    from_id: str
    from_name: str
    to_id: str
    to_name: str
    reason: str
    reassigned_at: datetime


class StepDecided(msgspec.Struct, frozen=True, kw_only=True):
    """业务动作 on a step. 通过 and 不予许可 end it (已办); 退回 leaves it 待办 until ``StepResumed``."""

    version: ClassVar[int] = 1
    case_no: str
    step_id: str
    step_name: str
    department: str
    item_case_no: str
    action: Action
    opinion: str
    materials: list[str] = []
    handler_id: str
    handler_name: str
    decided_at: datetime
    licence_name: str = ""  # 决定 准予: the licence issued
    licence_no: str = ""
    validity: str = ""


class StepResumed(msgspec.Struct, frozen=True, kw_only=True):
    """A step returned for supplement goes on: staff confirmed it (``/resume``), or the applicant supplemented
    (``supplemented`` lists what was brought, at a kiosk or a window; the envelope names who took it)."""

    version: ClassVar[int] = 1
    case_no: str
    step_id: str
    step_name: str
    department: str
    reason: str
    resumed_at: datetime
    supplemented: list[str] = []


class SpecialProcedureStarted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    step_id: str
    department: str
    kind: SpecialKind
    reason: str
    started_at: datetime


class SpecialProcedureEnded(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    step_id: str
    department: str
    kind: SpecialKind
    result: str
    ended_at: datetime


class ExtensionRequested(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    step_id: str
    department: str
    extension: Limit
    reason: str
    requested_at: datetime


class ExtensionApproved(msgspec.Struct, frozen=True, kw_only=True):
    """延长 approved: every clock in ``clock_ids`` (the step's, and its item's) moves by ``extension``."""

    version: ClassVar[int] = 1
    case_no: str
    step_id: str
    department: str
    clock_ids: list[str]
    extension: Limit
    opinion: str
    approved_at: datetime


class ExtensionRejected(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    step_id: str
    department: str
    opinion: str
    rejected_at: datetime


class StepEscalated(msgspec.Struct, frozen=True, kw_only=True):
    """A step overran its own limit: its department's supervisor is signalled, once per step and level."""

    version: ClassVar[int] = 1
    case_no: str
    step_id: str
    step_name: str
    department: str
    level: str
    deadline: datetime | None
    escalated_at: datetime


class ChildCompleted(msgspec.Struct, frozen=True, kw_only=True):
    """One item of a bundle is finished (终止: never handled, because an earlier stage was refused)."""

    version: ClassVar[int] = 1
    case_no: str
    child_case_no: str
    item_code: str
    item_name: str
    department: str
    result: ChildResult
    reason: str
    completed_at: datetime
    licence_name: str = ""  # 准予: the licence issued, as its 决定 recorded it
    licence_no: str = ""
    validity: str = ""
    closed_by: str = ""  # 不予办理: the prerequisite child (case no) whose refusal closed this one unhandled


class StepsClosed(msgspec.Struct, frozen=True, kw_only=True):
    """会签: the item was refused on one side, so the steps still open on the other close unhandled (they leave
    their inboxes; their clocks stop with the case's 办结)."""

    version: ClassVar[int] = 1
    case_no: str
    step_ids: list[str]
    reason: str
    closed_at: datetime


class ItemResult(msgspec.Struct, frozen=True, kw_only=True):
    """One item's own result (each child of a bundle; the item itself otherwise), with the licence it issued."""

    case_no: str
    item_code: str
    item_name: str
    department: str
    result: ChildResult
    reason: str = ""
    licence_name: str = ""
    licence_no: str = ""
    validity: str = ""


class CaseCompleted(msgspec.Struct, frozen=True, kw_only=True):
    """办结, once per case: 准予 when every item is granted; ``reasons`` say why anything was refused."""

    version: ClassVar[int] = 1
    case_no: str
    result: Result
    reasons: list[str] = []
    completed_at: datetime
    items: list[ItemResult] = []  # every item's (child's) own result and licence


class CaseDelivered(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    method: DeliveryMethod
    address: str
    result: Result
    reasons: list[str] = []
    delivered_at: datetime
    items: list[ItemResult] = []  # every item's (child's) own result and licence, as handed out


class HandedOver(msgspec.Struct, frozen=True, kw_only=True):
    """跨省通办: the case goes to the competent jurisdiction (on ``external.requests``, and as a fact on
    ``routing.events``); routing then waits for ``HandoverReceived`` and ``ExternalResult``."""

    version: ClassVar[int] = 1
    case_no: str
    item_code: str
    item_name: str
    department: str
    jurisdiction: str
    applicant_name: str
    handed_over_at: datetime
    # Sent by the clerk within the item's handover limit: what went, how, and the way to trace it.
    materials: list[Material] = []
    method: HandoverMethod | Literal[""] = ""
    tracking_no: str = ""  # 运单号 of the posted originals, or the push's receipt number on the exchange
    items: list[str] = []  # a 一件事 handed over as one: the names of its items
    receipt_limit: Limit | None = None  # the other jurisdiction is expected to confirm receipt within it
    case_id: str = ""  # the hall's case id, for the other platform's answers


class ApplicantNotified(msgspec.Struct, frozen=True, kw_only=True):
    """书面告知: the applicant is told of an approved extension or a started special procedure. The notice is
    printable at the desk (延长审批期限告知书 / 特别程序告知书) and a notification channel (SMS) may send ``text``
    to ``applicant_phone``, which stays sealed (shared.pii) on the bus."""

    version: ClassVar[int] = 1
    case_no: str
    item_case_no: str  # the child's case no in a bundle, the case's own otherwise
    item_name: str
    step_id: str
    department: str
    notice_no: str
    kind: NoticeKind
    title: str
    text: str
    basis: str = ""
    applicant_name: str = ""
    applicant_phone: str = ""
    notified_at: datetime
    item_code: str = ""  # the item (or bundle child's item) the notice is about: its type decides the remedy


# ---------------------------------------------------------------- 退回补正 and 容缺中止 end in 退件

RETURN = "退回补正"  # the purpose of the clock on a return's limit (catalogue return_limit)
SUSPENSION = "容缺中止"  # the purpose of the clock timing runs on a 容缺 suspension (data/halls.toml)
OVERDUE = "逾期"


class SupplementReturned(msgspec.Struct, frozen=True, kw_only=True):
    """The applicant brings what a step returned for (补正), at a kiosk (ID proved) or a clerk's window."""

    version: ClassVar[int] = 1
    materials: list[str]
    channel: str = ""  # 自助终端 / 窗口


class ClockRequested(msgspec.Struct, frozen=True, kw_only=True):
    """Asks timing for the clock on a return's limit (``purpose`` 退回补正); its 逾期 makes the case 退件."""

    version: ClassVar[int] = 1
    clock_id: str
    purpose: str
    case_no: str = ""
    department: str = ""
    starts_at: datetime | None = None
    limit: Limit


class ClockWithdrawn(msgspec.Struct, frozen=True, kw_only=True):
    """The return's clock is no longer needed: the step resumed."""

    version: ClassVar[int] = 1
    clock_id: str
    purpose: str = ""
    case_no: str = ""
    withdrawn_at: datetime | None = None


class CaseReturned(msgspec.Struct, frozen=True, kw_only=True):
    """退件: the limit of a return (退回补正) or of a 容缺 suspension passed with nothing supplied. The case ends
    without a decision; its open steps close, every clock stops with this outcome (not overdue), the applicant
    gets a 退件通知书 (``notice_no``) and may apply again with the materials."""

    version: ClassVar[int] = 1
    case_no: str
    cause: str  # 退回补正 / 容缺中止
    reason: str
    materials: list[str] = []  # what was never brought
    step_ids: list[str] = []  # the steps it closed
    deadline: datetime | None = None  # the limit that passed
    notice_no: str = ""
    returned_at: datetime


class SendHandover(msgspec.Struct, frozen=True, kw_only=True):
    """跨省通办: the clerk has checked the case and pushed it (or posted the originals) to the other jurisdiction;
    routing publishes ``HandedOver`` with the materials and the tracking number."""

    version: ClassVar[int] = 1
    method: HandoverMethod
    tracking_no: str
    materials: list[Material] = []
    department: str = ""
