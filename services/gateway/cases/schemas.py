"""Request and response bodies for cases, and the commands the gateway publishes for them."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec

from services.gateway.cases.timeline import TimelineEntry
from services.gateway.context import In
from services.gateway.desk.dossier import Dossier
from services.gateway.sla.board import CaseLimit
from services.gateway.text import check_limit
from shared.pii import Pii

Unit = Literal["WD", "WH", "ND", "NH"]


class ApplicantIn(In, frozen=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, description="申请人姓名或单位名称")]
    id_type: Literal["居民身份证", "统一社会信用代码", "其他"]
    id_number: Annotated[
        str, msgspec.Meta(description="证件号码；居民身份证号和统一社会信用代码校验位错误时，422 的理由指出哪一位错")
    ]
    phone: Annotated[str, msgspec.Meta(description="联系电话（告知中止、补齐等事项）")] = ""


class AgentIn(In, frozen=True, forbid_unknown_fields=True):
    """代理人: acts for the applicant, who stays the party; a 授权委托书 (material WTS, or the item's own 委托书)
    becomes required."""

    name: Annotated[str, msgspec.Meta(min_length=1, description="代理人姓名")]
    id_type: Literal["居民身份证", "统一社会信用代码", "其他"]
    id_number: Annotated[
        str, msgspec.Meta(description="代理人证件号码；与申请人一样校验，错误时 422 的理由指出字段和哪一位错")
    ]
    relation: Annotated[str, msgspec.Meta(min_length=1, description="与申请人的关系（如 配偶、员工、律师）")]
    phone: Annotated[str, msgspec.Meta(description="代理人联系电话")] = ""


# 补齐 may never outlast the promised limit (intake checks that); no item promises more than a year.
SUPPLEMENT_MOST_WD = 250


class LimitIn(In, frozen=True, forbid_unknown_fields=True):
    value: Annotated[float, msgspec.Meta(gt=0)]
    unit: Unit

    def __post_init__(self) -> None:
        super().__post_init__()
        check_limit("supplement_limit.value", self.value, self.unit, SUPPLEMENT_MOST_WD)


class ApplicationIn(In, frozen=True, forbid_unknown_fields=True):
    item_code: Annotated[str, msgspec.Meta(description="事项实施编码，或一件事的编码（见 GET /api/catalogue）")]
    applicant: ApplicantIn
    materials: Annotated[
        list[str], msgspec.Meta(description="已收取的材料编码；一件事的材料编码形如 reg.M01（见事项详情的材料清单）")
    ]
    channel: Annotated[
        Literal["window", "kiosk", "web", "mobile"] | None,
        msgspec.Meta(
            description="可省略：受理渠道取自登录用户（窗口人员 window，自助终端 kiosk）；填写的渠道与之不符时 422"
        ),
    ] = None
    deferral_signed: Annotated[
        bool, msgspec.Meta(description="申请人已签署容缺承诺书：仅缺可容缺材料时先行受理，限期补齐")
    ] = False
    supplement_limit: Annotated[
        LimitIn | None, msgspec.Meta(description="申请的补齐期限（不得长于承诺办结时限；缺省为承诺办结时限）")
    ] = None
    commitment_signed: Annotated[
        bool, msgspec.Meta(description="申请人已签署告知承诺书：可承诺的证明材料免于提交（失信名单上的申请人除外）")
    ] = False
    refusal_reason: Annotated[
        str,
        msgspec.Meta(
            description="不予受理理由：窗口人员认定不符合受理条件时填写，受理结果为不予受理并出具通知书；"
            "自助终端填写时 403"
        ),
    ] = ""
    agent: Annotated[
        AgentIn | None,
        msgspec.Meta(description="代理人（可省略）：须同时提交授权委托书；申请人仍为通知书的当事人"),
    ] = None
    helper_name: Annotated[
        str, msgspec.Meta(max_length=50, description="帮办代办：协助申请人办理的帮办人员姓名（可省略）")
    ] = ""
    project_code: Annotated[
        str,
        msgspec.Meta(
            max_length=40,
            description="工程建设项目代码：申报工程建设项目的一个审批阶段时必填（项目须已登记，见 POST /api/projects）",
        ),
    ] = ""


class MaterialsIn(In, frozen=True, forbid_unknown_fields=True):
    materials: Annotated[list[str], msgspec.Meta(min_length=1, description="补齐的材料编码（须在待补齐清单中）")]
    id_number: Annotated[str, msgspec.Meta(description="申请人证件号码；自助终端补齐时必填，用于核对身份")] = ""


class CaseView(msgspec.Struct, frozen=True, kw_only=True):
    case_id: str
    case_no: str
    state: str
    timeline: list[TimelineEntry]
    # For signed-in staff: the receipt's facts, with the promised and 补齐 deadlines once timing has them.
    dossier: Dossier | None = None
    # The case's own clock now: 正常 / 预警 / 逾期 and the working time left ("剩余 1.5 个工作日"); None before timing
    # started it and once it stopped.
    time_limit: CaseLimit | None = None


# Commands as published to Kafka: the gateway's own copies of what the owning services accept.


class Applicant(msgspec.Struct, frozen=True, kw_only=True):
    """The applicant as the command carries it: ID number and phone sealed (shared.pii), never in plain text."""

    name: str
    id_type: str
    id_number: str
    phone: str = ""


class Agent(msgspec.Struct, frozen=True, kw_only=True):
    """The agent as the command carries it: ID number and phone sealed."""

    name: str
    id_type: str
    id_number: str
    relation: str
    phone: str = ""


def sealed_agent(agent: AgentIn | None, pii: Pii) -> Agent | None:
    if agent is None:
        return None
    return Agent(
        name=agent.name,
        id_type=agent.id_type,
        id_number=pii.seal(agent.id_number),
        relation=agent.relation,
        phone=pii.seal(agent.phone),
    )


def sealed_applicant(applicant: ApplicantIn, pii: Pii) -> Applicant:
    return Applicant(
        name=applicant.name,
        id_type=applicant.id_type,
        id_number=pii.seal(applicant.id_number),
        phone=pii.seal(applicant.phone),
    )


class SubmitApplication(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    item_code: str
    applicant: Applicant
    materials: list[str]
    channel: str
    point: str
    deferral_signed: bool = False
    supplement_limit: LimitIn | None = None
    commitment_signed: bool = False
    refusal_reason: str = ""
    agent: Agent | None = None
    helper_name: str = ""
    project_code: str = ""  # 工程建设: the registered project whose stage this is


class SupplementMaterials(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    materials: list[str]
