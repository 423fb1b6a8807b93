"""Request and response bodies for department steps, and the commands the gateway publishes for them.

Every command names the acting user's own department (and role where it matters): routing refuses a step
of another department (403) and an extension approved by anyone but the department's supervisor (403).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec

from services.gateway.context import In
from services.gateway.steps.workbench import Escalation, Record, StepView
from services.gateway.text import check_limit

SpecialKind = Literal["听证", "招标", "拍卖", "检验", "检测", "检疫", "鉴定", "专家评审"]
Unit = Literal["WD", "WH", "ND", "NH"]


class DecisionIn(In, frozen=True, forbid_unknown_fields=True):
    action: Literal["通过", "退回", "不予许可"]
    opinion: str
    materials: list[str] = msgspec.field(default_factory=list)  # 退回: what the applicant must supplement
    # 决定 准予: the licence issued; the number is required where the catalogue names the item's licence
    licence_name: Annotated[str, msgspec.Meta(max_length=60, description="证照名称（默认取事项目录的证照）")] = ""
    licence_no: Annotated[str, msgspec.Meta(max_length=60, description="证照编号（颁发证照的事项准予时必填）")] = ""
    validity: Annotated[str, msgspec.Meta(max_length=60, description="有效期（可选，如：长期、2031-12-31）")] = ""


class ResumeIn(In, frozen=True, forbid_unknown_fields=True):
    opinion: str = ""


class ReassignIn(In, frozen=True, forbid_unknown_fields=True):
    to: str  # a user id of the same department
    reason: str = ""


class SpecialStartIn(In, frozen=True, forbid_unknown_fields=True):
    kind: SpecialKind
    reason: str


class SpecialEndIn(In, frozen=True, forbid_unknown_fields=True):
    result: str


# 延长 is granted once, at most 10 working days on a 20-day statutory limit (DOMAIN.md); longer laws allow more.
EXTENSION_MOST_WD = 30


class LimitIn(In, frozen=True, forbid_unknown_fields=True):
    value: Annotated[float, msgspec.Meta(description=f"延长时长：大于 0，不超过 {EXTENSION_MOST_WD} 个工作日或等量")]
    unit: Unit = "WD"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_limit("extension.value", self.value, self.unit, EXTENSION_MOST_WD)


class ExtensionIn(In, frozen=True, forbid_unknown_fields=True):
    extension: LimitIn
    reason: str


class ExtensionDecisionIn(In, frozen=True, forbid_unknown_fields=True):
    approve: bool
    opinion: str = ""


class InboxView(msgspec.Struct, frozen=True, kw_only=True):
    """A page of a department's open steps, oldest opened first (services/gateway/paging.py)."""

    department: str
    items: list[StepView]
    next_cursor: str | None = None  # absent on the last page
    total: int = 0  # every step of the list (all pages)


class StepDetail(msgspec.Struct, frozen=True, kw_only=True):
    step: StepView
    records: list[Record]


class EscalationsView(msgspec.Struct, frozen=True, kw_only=True):
    """A page of a department's escalations, the latest first (services/gateway/paging.py)."""

    department: str
    items: list[Escalation]
    next_cursor: str | None = None  # absent on the last page
    total: int = 0


# Commands as published to Kafka: the gateway's own copies of what routing accepts.


class Limit(msgspec.Struct, frozen=True):
    value: float
    unit: str


class ClaimStep(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    department: str


class DecideStep(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    action: str
    opinion: str
    department: str
    materials: list[str] = []
    licence_name: str = ""
    licence_no: str = ""
    validity: str = ""


class ResumeStep(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    department: str
    opinion: str


class ReassignStep(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    department: str
    role: str
    to_id: str
    to_name: str
    to_department: str
    reason: str


class StartSpecialProcedure(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    department: str
    kind: str
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
    version: ClassVar[int] = 1
    step_id: str
    department: str
    role: str
    approve: bool
    opinion: str


class SupplementReturned(msgspec.Struct, frozen=True, kw_only=True):
    """The applicant's 补正 (kiosk with the ID proved, or a clerk): what the case's returned steps asked for."""

    version: ClassVar[int] = 1
    materials: list[str]
    channel: str = ""  # 自助终端 / 窗口


COMMANDS: list[type[msgspec.Struct]] = [
    ClaimStep,
    DecideStep,
    ResumeStep,
    ReassignStep,
    StartSpecialProcedure,
    EndSpecialProcedure,
    RequestExtension,
    DecideExtension,
    SupplementReturned,
]
