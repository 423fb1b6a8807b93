"""Request and response bodies of the ratings API, and the commands the gateway sends evaluation for them."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec
from litestar.exceptions import HTTPException

from services.gateway.context import In
from services.gateway.ratings.book import Change, Served
from services.gateway.ratings.statistics import Figures
from services.gateway.views.evaluation import FollowUp, RatingRecorded

LevelName = Literal["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
Channel = Literal["评价器", "自助终端", "PC", "移动端", "二维码", "短信", "电话"]
LinkChannel = Literal["短信", "二维码", "PC", "移动端"]
Stage = Literal["", "受理", "出件", "办结", "整体"]
CodeTable = Literal["", "GB/T 39046", "评价接口"]
ID_TAIL_LENGTH = 6


class LevelIn(In, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A level by name, or by its number in a named code table (GB/T 39046: 1 = 非常满意; 评价接口: 1 = 非常不满意)."""

    level: LevelName | Literal[""] = ""
    code: int = 0  # evaluation refuses a code outside its table with the reason
    code_table: CodeTable = ""


class RatingIn(LevelIn, frozen=True, kw_only=True, forbid_unknown_fields=True):
    channel: Channel
    stage: Stage = ""
    kind: Literal["首评", "追评"] = "首评"
    indicators: dict[str, str] = msgspec.field(default_factory=dict)
    text: str = ""
    anonymous: bool = False
    applicant_id_tail: Annotated[
        str, msgspec.Meta(description="申请人证件号码后六位（自助终端评价时必填，须为6个字符）")
    ] = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        tail = self.applicant_id_tail.strip()
        if tail and len(tail) != ID_TAIL_LENGTH:
            raise HTTPException(
                status_code=422, detail=f"证件号码后六位须为{ID_TAIL_LENGTH}个字符，实际为{len(tail)}个"
            )


class PadRatingIn(LevelIn, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The pad sends back the service it showed, so a tap never lands on a service served after it."""

    case_no: str
    stage: Stage
    indicators: dict[str, str] = msgspec.field(default_factory=dict)


class LinkRatingIn(LevelIn, frozen=True, kw_only=True, forbid_unknown_fields=True):
    indicators: dict[str, str] = msgspec.field(default_factory=dict)
    text: str = ""
    anonymous: bool = False


class LinkIn(In, frozen=True, kw_only=True, forbid_unknown_fields=True):
    stage: Stage = ""
    channel: LinkChannel = "短信"
    purpose: Literal["评价", "追评"] = "评价"


class CorrectionLinkIn(In, frozen=True, kw_only=True, forbid_unknown_fields=True):
    channel: LinkChannel = "短信"


class VerifyIn(In, frozen=True, kw_only=True, forbid_unknown_fields=True):
    outcome: Literal["申诉", "整改"]
    reply: str
    appeal_reason: str = ""


class AppealReviewIn(In, frozen=True, kw_only=True, forbid_unknown_fields=True):
    upheld: bool
    opinion: str


class ExtensionIn(In, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: str


class VisitIn(In, frozen=True, kw_only=True, forbid_unknown_fields=True):
    method: Literal["电话", "上门", "短信", "当面"]
    note: str


class ClosingIn(In, frozen=True, kw_only=True, forbid_unknown_fields=True):
    outcome: Literal["整改完成", "无法整改"]
    explanation: str = ""


class LinkOut(msgspec.Struct, frozen=True, kw_only=True):
    token: str
    url: str
    # The URL as a QR code (inline SVG), ready to print on a notice or show on a screen.
    qr_svg: str
    case_no: str
    stage: str
    purpose: str
    channel: str


class CaseRatings(msgspec.Struct, frozen=True, kw_only=True):
    case_no: str
    ratings: list[RatingRecorded]
    followups: list[FollowUp]


class PadView(msgspec.Struct, frozen=True, kw_only=True):
    pad: str
    clerk: str
    clerk_name: str
    served: Served | None
    rated: bool


class FollowUpDetail(msgspec.Struct, frozen=True, kw_only=True):
    followup: FollowUp
    history: list[Change]


class FollowUpList(msgspec.Struct, frozen=True, kw_only=True):
    """A page of the 差评整改台账, newest rating first (services/gateway/paging.py)."""

    items: list[FollowUp]
    next_cursor: str | None = None  # absent on the last page
    total: int = 0


class StatsView(msgspec.Struct, frozen=True, kw_only=True):
    by: str
    groups: list[Figures]
    total: Figures


# Commands as published to Kafka: the gateway's own copies of what evaluation accepts.


class SubmitRating(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    level: str = ""
    code: int = 0
    code_table: str = ""
    channel: str
    text: str = ""
    stage: str = ""
    kind: str = "首评"
    indicators: dict[str, str] = {}
    token: str = ""
    anonymous: bool = False
    applicant_id_tail: str = ""
    seen_delivered: bool = False


class IssueRatingLink(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    stage: str = ""
    channel: str = "短信"
    purpose: str = "评价"


class RateCorrection(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    token: str
    level: str = ""
    code: int = 0
    code_table: str = ""
    text: str = ""


class VerifyBadReview(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    followup_id: str
    outcome: str
    reply: str
    appeal_reason: str = ""
    department: str = ""


class ReviewAppeal(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    followup_id: str
    upheld: bool
    opinion: str
    department: str = ""


class ExtendCorrection(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    followup_id: str
    reason: str
    department: str = ""


class RecordReturnVisit(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    followup_id: str
    method: str
    note: str
    department: str = ""


class CloseCorrection(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    followup_id: str
    outcome: str
    explanation: str = ""
    department: str = ""


COMMANDS: tuple[type[msgspec.Struct], ...] = (
    SubmitRating,
    IssueRatingLink,
    RateCorrection,
    VerifyBadReview,
    ReviewAppeal,
    ExtendCorrection,
    RecordReturnVisit,
    CloseCorrection,
)
