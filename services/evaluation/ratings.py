"""Who may rate what, and when: the rules of one rating, on evaluation's record of a case (pure, no I/O).

一次一评: every service event (a stage of a case: 受理, 办结, or the case as a whole) gets one first rating (首评) and
at most one 追评. The rating window is a timing clock; once it has passed (timing's ``ClockStarted`` told its end)
a first rating is refused and the default rating takes its place.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from services.evaluation.messages import Kind
from services.evaluation.tokens import Claims
from shared.envelope import Actor
from shared.levels import CODE_TABLES, Level, UnknownLevel, from_code, parse
from shared.localtime import local
from shared.rating_policy import LINK_CHANNELS, RatingPolicy
from shared.replies import Refusal

STAGES = ("受理", "出件", "办结", "整体")
PURPOSE_OF: dict[str, str] = {"首评": "评价", "追评": "追评"}


class NotOpen(Refusal):
    """The service asked for is not open for rating (yet): the case may not be delivered here yet."""


class StageRecord(msgspec.Struct, kw_only=True):
    """One service event open for rating: its window clock and what it got."""

    opened_at: datetime
    clerk: str
    clock_id: str
    window_ends_at: datetime | None = None
    first_id: str = ""
    first_at: datetime | None = None
    first_default: bool = False
    second_id: str = ""  # the 追评
    followup_id: str = ""  # the bad-review follow-up this stage opened


class CaseFile(msgspec.Struct, kw_only=True):
    case_no: str
    item_code: str
    item_name: str
    department: str
    region_code: str
    applicant_name: str
    applicant_id_number: str
    accepted_by: str
    accepted_at: datetime
    delivered_by: str = ""
    delivered_at: datetime | None = None
    stages: dict[str, StageRecord] = {}
    # 谁办理谁负责: the window (the accepting point and its department) and the decision (routing's last 通过 /
    # 不予许可: its department and handler).
    point: str = ""
    window_department: str = ""
    deciding_department: str = ""
    decided_by: str = ""


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    """What a rater tries to do, already decoded (the token verified, if there was one)."""

    stage: str
    kind: Kind
    channel: str
    actor: Actor
    claims: Claims | None
    at: datetime
    applicant_id_tail: str = ""


def level_of(name: str, code: int, table: str) -> Level:
    """The level named, or numbered in a code table; 422 with what is allowed otherwise."""
    try:
        if name:
            return parse(name)
        if table not in CODE_TABLES:
            raise Refusal(422, f"请给出评价等级 level，或评价代码 code 及代码表 code_table（{'、'.join(CODE_TABLES)}）")
        return from_code(code, table)
    except UnknownLevel as exc:
        raise Refusal(422, str(exc)) from None


def admit(case: CaseFile, attempt: Attempt, policy: RatingPolicy) -> str:
    """The stage this attempt rates, if the rules let it; raises :class:`Refusal` with the reason otherwise."""
    stage_name = _stage_asked(case, attempt)
    stage = case.stages.get(stage_name)
    if stage is None:
        if stage_name in ("出件", "办结", "整体") and case.delivered_at is None:
            raise NotOpen(409, f"办件 {case.case_no} 尚未出件，暂不能评价")
        raise NotOpen(409, f"办件 {case.case_no} 的“{stage_name}”服务未开放评价")
    _check_rater(case, stage, attempt, policy)
    if attempt.kind == "首评":
        if stage.first_id:
            if stage.first_default:
                raise Refusal(409, f"评价期已结束，系统已默认评价为“{policy.default_level.value}”，不能再评价")
            when = local(stage.first_at) if stage.first_at else ""
            raise Refusal(409, f"办件 {case.case_no} 的“{stage_name}”服务已于 {when} 评价，不能重复评价")
        if stage.window_ends_at is not None and attempt.at > stage.window_ends_at:
            raise Refusal(409, f"评价期已于 {local(stage.window_ends_at)} 结束，不能再评价")
    else:
        if not stage.first_id:
            raise Refusal(409, f"办件 {case.case_no} 的“{stage_name}”服务尚未评价，不能追评")
        if stage.second_id:
            raise Refusal(409, f"办件 {case.case_no} 的“{stage_name}”服务已追评，每项服务只能追评一次")
    return stage_name


def _stage_asked(case: CaseFile, attempt: Attempt) -> str:
    if attempt.claims is not None:
        if attempt.stage and attempt.stage != attempt.claims.stage:
            raise Refusal(403, f"该评价码只能评价“{attempt.claims.stage}”服务")
        return attempt.claims.stage
    if attempt.stage:
        if attempt.stage not in STAGES:
            raise Refusal(422, f"评价对象“{attempt.stage}”无效，应为：{'、'.join(STAGES)}")
        return attempt.stage
    return latest_stage(case)


def latest_stage(case: CaseFile) -> str:
    """The service just given: the stage opened last."""
    if not case.stages:
        raise NotOpen(409, f"办件 {case.case_no} 尚未开放评价")
    return max(case.stages.items(), key=lambda item: item[1].opened_at)[0]


def _check_rater(case: CaseFile, stage: StageRecord, attempt: Attempt, policy: RatingPolicy) -> None:
    """Nobody rates a service that is not theirs: a link is bound to its case, a pad to its window's clerk."""
    actor, channel, claims = attempt.actor, attempt.channel, attempt.claims
    if claims is not None:
        if claims.case_no != case.case_no:
            raise Refusal(403, f"该评价码不属于办件 {case.case_no}")
        if claims.purpose != PURPOSE_OF[attempt.kind]:
            raise Refusal(403, f"该评价码用于{claims.purpose}，不能用于{attempt.kind}")
        return
    tail = attempt.applicant_id_tail.strip().upper()
    if tail and case.applicant_id_number and (len(tail) < 4 or not case.applicant_id_number.upper().endswith(tail)):
        raise Refusal(403, f"证件号码后几位与办件 {case.case_no} 的申请人不符，不能评价")
    if channel == "自助终端" and case.applicant_id_number and not tail:
        # A kiosk is shared: the case number alone does not show the case is the rater's own.
        raise Refusal(403, "在自助终端评价须输入申请人证件号码后六位，以确认是本人的办件")
    if channel == "系统默认":
        raise Refusal(422, "“系统默认”评价只能由系统在评价期满时作出")
    if channel in LINK_CHANNELS:
        raise Refusal(403, f"通过{channel}评价须使用评价链接（评价码）")
    if channel == "评价器":
        window_clerk = policy.pads.get(actor.id)
        if actor.kind != "pad" or window_clerk is None:
            raise Refusal(403, f"{actor.name or actor.id} 不是已配置窗口的评价器，不能以评价器渠道评价")
        if window_clerk != stage.clerk:
            raise Refusal(403, f"评价器 {actor.id} 所在窗口没有办理办件 {case.case_no} 的这项服务，不能评价")
        return
    allowed = {"自助终端": "kiosk", "电话": "operator"}
    if channel not in allowed:
        raise Refusal(422, f"评价渠道“{channel}”无效")
    if actor.kind != allowed[channel]:
        raise Refusal(403, f"{actor.name or actor.id} 不能以“{channel}”渠道代替办事群众评价")


def indicators_of(given: dict[str, str], channel: str, policy: RatingPolicy) -> dict[str, str]:
    """Each indicator must belong to the channel's set (window or online) and carry a level."""
    allowed = policy.indicators_for(channel)
    out: dict[str, str] = {}
    for name, value in given.items():
        if name not in allowed:
            raise Refusal(422, f"指标“{name}”不适用于{channel}评价；可评：{'、'.join(allowed) or '无'}")
        try:
            out[name] = parse(value).value
        except UnknownLevel as exc:
            raise Refusal(422, f"指标“{name}”：{exc}") from None
    return out
