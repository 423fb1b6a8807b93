"""What evaluation consumes (its own views of intake's, routing's and timing's events, and its commands) and
publishes (ratings, bad-review follow-ups, and clock requests to timing)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import msgspec

from services.evaluation.tokens import Purpose
from shared.rating_policy import Limit

LevelName = Literal["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
Kind = Literal["首评", "追评"]
FollowUpStatus = Literal["待核实", "申诉中", "无效差评", "整改中", "整改完成", "无法整改"]
ClockPurpose = Literal["评价期", "整改", "回访"]

# ---- views of other services' events -------------------------------------------------------------------------


class CaseAccepted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    item_code: str
    item_name: str
    departments: list[str]
    accepted_at: datetime
    owner: str = ""  # 首问负责: the accepting clerk (the submitting actor when intake does not say)
    applicant_name: str = ""
    applicant_id_number: str = ""
    region_code: str = ""
    owner_name: str = ""
    point: str = ""  # the service point that accepted (data/points.toml)
    point_name: str = ""
    approving_department: str = ""


class StepDecided(msgspec.Struct, frozen=True, kw_only=True):
    """Routing's 业务动作 on a step: the last 通过 / 不予许可 names the deciding department and handler."""

    version: ClassVar[int] = 1
    case_no: str
    step_id: str
    step_name: str = ""
    department: str = ""
    action: str = ""
    handler_id: str = ""
    handler_name: str = ""


class CaseDelivered(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    delivered_at: datetime


class ClockStarted(msgspec.Struct, frozen=True, kw_only=True):
    """Timing's answer to a clock request: ``promised_deadline`` is when the window or correction ends."""

    version: ClassVar[int] = 1
    case_no: str
    promised_deadline: datetime
    clock_id: str = ""
    purpose: str = ""
    provisional: bool = False  # 暂定: it rests on a year without an official holiday schedule yet


class DeadlineRevised(msgspec.Struct, frozen=True, kw_only=True):
    """The official schedule of ``year`` was loaded: a rating window's or a correction's end moved.

    ``retracted`` names the alert levels (逾期 …) raised under the provisional date that are no longer due.
    """

    version: ClassVar[int] = 1
    clock_id: str
    purpose: str
    case_no: str
    year: int
    old_promised_deadline: datetime
    promised_deadline: datetime
    retracted: list[str] = []
    provisional: bool = False


class ClockAlerted(msgspec.Struct, frozen=True, kw_only=True):
    """Level ``逾期`` means the deadline has passed."""

    version: ClassVar[int] = 1
    clock_id: str
    purpose: str
    case_no: str
    level: str
    deadline: datetime


# ---- commands (from the gateway) -------------------------------------------------------------------------------


class SubmitRating(msgspec.Struct, frozen=True, kw_only=True):
    """A rating from a rater. The level is a name, or a number in a named code table (``code`` + ``code_table``).

    ``stage`` empty means the service just given (the stage opened last); ``token`` is a signed rating link's.
    """

    version: ClassVar[int] = 1
    level: str = ""
    code: int = 0
    code_table: str = ""
    channel: str
    text: str = ""
    stage: str = ""
    kind: Kind = "首评"
    indicators: dict[str, str] = {}
    token: str = ""
    anonymous: bool = False
    # The kiosk page asks the applicant for the last digits of their ID number (办件编号 + 身份证号后六位).
    applicant_id_tail: str = ""
    # The gateway saw the case delivered: without a stage, the delivered service is meant, even if routing's
    # CaseDelivered has not reached evaluation yet.
    seen_delivered: bool = False


class IssueRatingLink(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    stage: str = ""
    channel: str = "短信"
    purpose: Purpose = "评价"


class RatingLink(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to :class:`IssueRatingLink`: the token for ``/rate/{token}``."""

    token: str
    case_no: str
    stage: str
    purpose: Purpose
    channel: str


class VerifyBadReview(msgspec.Struct, frozen=True, kw_only=True):
    """核实: the department answers the rater (差评回复) and either appeals (申诉) or corrects (整改)."""

    version: ClassVar[int] = 1
    followup_id: str
    outcome: Literal["申诉", "整改"]
    reply: str
    appeal_reason: str = ""
    department: str = ""


class ReviewAppeal(msgspec.Struct, frozen=True, kw_only=True):
    """A supervisor's review of an appeal: upheld → 无效差评; rejected → 整改中."""

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
    """回访: who called or visited the rater, how, and what the rater said."""

    version: ClassVar[int] = 1
    followup_id: str
    method: Literal["电话", "上门", "短信", "当面"]
    note: str
    department: str = ""


class CloseCorrection(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    followup_id: str
    outcome: Literal["整改完成", "无法整改"]
    explanation: str
    department: str = ""


class RateCorrection(msgspec.Struct, frozen=True, kw_only=True):
    """The rater's rating of the correction, through a link issued for it (purpose 整改评价)."""

    version: ClassVar[int] = 1
    token: str
    level: str = ""
    code: int = 0
    code_table: str = ""
    text: str = ""


# ---- what evaluation publishes ---------------------------------------------------------------------------------


class ClockRequested(msgspec.Struct, frozen=True, kw_only=True):
    """Asks timing for a deadline clock: the rating window (评价期) or a bad review's correction (整改)."""

    version: ClassVar[int] = 1
    clock_id: str
    purpose: ClockPurpose
    case_no: str
    department: str
    starts_at: datetime
    limit: Limit
    not_after: datetime | None = None


class ClockWithdrawn(msgspec.Struct, frozen=True, kw_only=True):
    """The clock is no longer needed (rated in time, correction closed or extended)."""

    version: ClassVar[int] = 1
    clock_id: str
    purpose: ClockPurpose
    case_no: str
    withdrawn_at: datetime


class RatingOpened(msgspec.Struct, frozen=True, kw_only=True):
    """A service event is open for rating (一次一评): e.g. the window pad of ``clerk`` now offers it."""

    version: ClassVar[int] = 1
    case_no: str
    stage: str
    clerk: str
    item_code: str
    item_name: str
    department: str
    applicant_name: str
    opened_at: datetime


class Charge(msgspec.Struct, frozen=True, kw_only=True):
    """谁办理谁负责: one party a rating counts to — the window (服务场所, its department, the clerk) or the decision
    (the deciding department and handler)."""

    to: Literal["window", "decision"]
    department: str
    clerk: str = ""
    point: str = ""


class Rater(msgspec.Struct, frozen=True, kw_only=True):
    """Who rated: the applicant (by name unless anonymous) or the system for a default rating."""

    kind: Literal["applicant", "system"]
    name: str
    id_number: str = ""
    real_name: bool


class RatingRecorded(msgspec.Struct, frozen=True, kw_only=True):
    """One rating record (DOMAIN §5): a first rating, a 追评, or the system's default (``default``)."""

    version: ClassVar[int] = 1
    rating_id: str
    case_no: str
    item_code: str
    item_name: str
    stage: str
    department: str
    clerk: str
    channel: str
    rater: Rater
    recorded_by: str
    level: LevelName
    gbt_code: int  # the level in GB/T 39046 (1 = 非常满意), for data exchange
    indicators: dict[str, str]
    text: str
    kind: Kind
    default: bool
    bad_review: bool
    region_code: str
    rated_at: datetime
    # 谁办理谁负责: every party the rating counts to (department and clerk above are the first of them).
    charged: list[Charge] = []
    point: str = ""


class Visit(msgspec.Struct, frozen=True, kw_only=True):
    method: str
    note: str
    by: str
    at: datetime


class FollowUp(msgspec.Struct, kw_only=True):
    """A bad review's follow-up (差评整改): evaluation's own record, published whole at every change."""

    followup_id: str
    case_id: str
    case_no: str
    item_code: str
    item_name: str
    stage: str
    department: str
    clerk: str
    rating_id: str
    level: LevelName
    text: str
    rater: Rater
    region_code: str
    opened_at: datetime
    status: FollowUpStatus = "待核实"
    reply: str = ""
    replied_at: datetime | None = None
    replied_by: str = ""
    appeal_reason: str = ""
    appealed_by: str = ""
    appeal_opinion: str = ""
    appeal_reviewed_by: str = ""
    clock_id: str = ""
    deadline: datetime | None = None
    deadline_provisional: bool = False  # 暂定: the deadline rests on a year without an official holiday schedule
    extended: bool = False
    extension_reason: str = ""
    overdue: bool = False
    visit: Visit | None = None
    explanation: str = ""
    closed_at: datetime | None = None
    closed_by: str = ""
    correction_level: LevelName | None = None
    correction_rated_at: datetime | None = None
    revision: int = 0
    # Every department the bad review is charged to (department above is the first); each may handle it.
    departments: list[str] = []
    charged: list[Charge] = []
    # 回访 after 整改完成 / 无法整改 runs on a clock of its own (data/evaluation.toml follow_up.return_visit_limit).
    visit_clock_id: str = ""
    visit_deadline: datetime | None = None
    visit_deadline_provisional: bool = False
    visit_overdue: bool = False
    # The correction deadline the one extension ran on from (kept while timing computes the new one).
    extended_from: datetime | None = None


class FollowUpChanged(msgspec.Struct, frozen=True, kw_only=True):
    """A follow-up after one change (``change`` says which, in words for the timeline)."""

    version: ClassVar[int] = 1
    change: str
    followup: FollowUp
