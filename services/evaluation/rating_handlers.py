"""Evaluation's rating commands: issue a rating link, record a rating (and open a bad review's follow-up), and
record the rater's rating of a correction. Every refusal is answered with its reason."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from services.evaluation.followups import rate_correction
from services.evaluation.handlers import charges_of, rating_record
from services.evaluation.messages import (
    FollowUp,
    IssueRatingLink,
    RateCorrection,
    Rater,
    RatingLink,
    RatingRecorded,
    SubmitRating,
)
from services.evaluation.ratings import (
    Attempt,
    CaseFile,
    NotOpen,
    StageRecord,
    admit,
    indicators_of,
    latest_stage,
    level_of,
)
from services.evaluation.store import Store
from services.evaluation.tokens import BadToken, Claims, LinkSigner
from shared.clock import Clock
from shared.envelope import Envelope
from shared.kafka import HandlerTable, NotYet, Route
from shared.outbox import Txn
from shared.pii import for_settings
from shared.rating_policy import LINK_CHANNELS, RatingPolicy
from shared.replies import Refusal

# A rating may come a moment before the event that opens its service reaches evaluation: it waits this long.
CAUSAL_GRACE = timedelta(seconds=10)
# The gateway vouched for the delivery (it showed 已出件): that event is in Kafka and will reach evaluation, however
# far behind evaluation is (just restarted, catching up after an outage). The rating waits for it this long, not
# CAUSAL_GRACE: refusing it as 尚未出件 would contradict what the applicant was shown, after the gateway's 202.
VOUCHED_GRACE = timedelta(minutes=10)


class Recorded(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to a recorded rating."""

    rating_id: str
    case_no: str
    stage: str
    kind: str
    level: str
    followup_id: str = ""


class Ratings:
    def __init__(self, store: Store, policy: RatingPolicy, signer: LinkSigner, clock: Clock) -> None:
        self.store = store
        self.policy = policy
        self.signer = signer
        self.clock = clock

    def table(self) -> HandlerTable:
        return {
            "SubmitRating.v1": Route(SubmitRating, self.submit_rating),
            "IssueRatingLink.v1": Route(IssueRatingLink, self.issue_link),
            "RateCorrection.v1": Route(RateCorrection, self.rate_correction),
        }

    async def _case(self, txn: Txn, env: Envelope, *, vouched: bool = False) -> CaseFile:
        case = await self.store.case(txn, env.case_id)
        if case is None:
            self._wait_if_recent(env, vouched=vouched)
            raise Refusal(404, "没有该办件，无法评价")
        return case

    def _wait_if_recent(self, env: Envelope, *, vouched: bool = False) -> None:
        grace = VOUCHED_GRACE if vouched else CAUSAL_GRACE
        if self.clock.now() - env.occurred_at < grace:
            raise NotYet(f"case {env.case_id} not yet known here as open for rating")

    async def _claims(self, txn: Txn, token: str) -> Claims:
        try:
            claims = self.signer.verify(token)
        except BadToken as exc:
            raise Refusal(403, str(exc)) from None
        if await self.store.token_used(txn, claims.nonce):
            raise Refusal(409, "该评价码已使用过，不能重复评价")
        return claims

    async def submit_rating(self, env: Envelope, cmd: SubmitRating, txn: Txn) -> None:
        try:
            await self._submit(env, cmd, txn)
        except Refusal as refusal:
            txn.refuse(refusal)

    async def _submit(self, env: Envelope, cmd: SubmitRating, txn: Txn) -> None:
        claims = await self._claims(txn, cmd.token) if cmd.token else None
        case = await self._case(txn, env, vouched=cmd.seen_delivered)
        if cmd.seen_delivered and case.delivered_at is None:
            self._wait_if_recent(env, vouched=True)
            raise Refusal(409, f"办件 {case.case_no} 尚未出件，暂不能评价")
        level = level_of(cmd.level, cmd.code, cmd.code_table)
        channel = claims.channel if claims is not None else cmd.channel
        attempt = Attempt(
            stage=cmd.stage,
            kind=cmd.kind,
            channel=channel,
            actor=env.actor,
            claims=claims,
            at=env.occurred_at,
            applicant_id_tail=cmd.applicant_id_tail,
        )
        # The rater's ID tail is checked against the applicant's number, opened for this check only.
        opened = msgspec.structs.replace(
            case, applicant_id_number=for_settings(self.store.settings).unseal(case.applicant_id_number)
        )
        try:
            stage_name = admit(opened, attempt, self.policy)
        except NotOpen:
            self._wait_if_recent(env, vouched=cmd.seen_delivered)
            raise
        stage = case.stages[stage_name]
        rater = Rater(
            kind="applicant",
            name="匿名" if cmd.anonymous else case.applicant_name,
            id_number="" if cmd.anonymous else case.applicant_id_number,
            real_name=not cmd.anonymous,
        )
        record = rating_record(
            case,
            stage_name,
            charged=charges_of(case, stage_name, stage, self.policy),
            level=level,
            channel=channel,
            rater=rater,
            recorded_by=env.actor.id,
            kind=cmd.kind,
            at=env.occurred_at,
            indicators=indicators_of(cmd.indicators, channel, self.policy),
            text=cmd.text.strip(),
        )
        if cmd.kind == "首评":
            stage.first_id, stage.first_at = record.rating_id, record.rated_at
            self.store.withdraw_clock(txn, stage.clock_id, "评价期", case.case_no, env.occurred_at)
        else:
            stage.second_id = record.rating_id
        if claims is not None:
            self.store.burn_token(txn, claims.nonce, record.rating_id)
        txn.emit(self.store.events, record)
        if level.bad and not stage.followup_id:
            stage.followup_id = self._open_followup(txn, env, case, record)
        self.store.save_case(txn, env.case_id, case)
        body = Recorded(
            rating_id=record.rating_id,
            case_no=case.case_no,
            stage=stage_name,
            kind=cmd.kind,
            level=record.level,
            followup_id=stage.followup_id,
        )
        txn.answer(201, body=body)

    def _open_followup(self, txn: Txn, env: Envelope, case: CaseFile, record: RatingRecorded) -> str:
        """A 差评 opens its follow-up, and the correction clock starts with it."""
        followup = FollowUp(
            followup_id=record.rating_id,
            case_id=env.case_id,
            case_no=case.case_no,
            item_code=case.item_code,
            item_name=case.item_name,
            stage=record.stage,
            department=record.department,
            clerk=record.clerk,
            departments=list(dict.fromkeys(c.department for c in record.charged)),
            charged=record.charged,
            rating_id=record.rating_id,
            level=record.level,
            text=record.text,
            rater=record.rater,
            region_code=record.region_code,
            opened_at=record.rated_at,
            clock_id=f"{record.rating_id}:整改:1",
        )
        limit = self.policy.follow_up.correction_limit
        self.store.request_clock(
            txn,
            clock_id=followup.clock_id,
            purpose="整改",
            case_no=case.case_no,
            department=record.department,
            at=record.rated_at,
            limit=limit,
        )
        self.store.save_followup(txn, followup, f"收到差评（{record.level}），待核实")
        return followup.followup_id

    async def issue_link(self, env: Envelope, cmd: IssueRatingLink, txn: Txn) -> None:
        try:
            case = await self._case(txn, env)
            txn.answer(201, body=await self._link(txn, env, case, cmd))
        except Refusal as refusal:
            txn.refuse(refusal)

    async def _link(self, txn: Txn, env: Envelope, case: CaseFile, cmd: IssueRatingLink) -> RatingLink:
        if cmd.channel not in LINK_CHANNELS:
            raise Refusal(422, f"评价链接只能用于：{'、'.join(sorted(LINK_CHANNELS))}")
        stage_name = cmd.stage or latest_stage(case)
        stage = case.stages.get(stage_name)
        if stage is None:
            raise Refusal(409, f"办件 {case.case_no} 的“{stage_name}”服务未开放评价")
        if cmd.purpose == "整改评价":
            followup = await self.store.followup(txn, stage.followup_id) if stage.followup_id else None
            if followup is None or followup.status not in ("整改完成", "无法整改"):
                raise Refusal(409, f"办件 {case.case_no} 没有已办结的差评整改，无需评价整改结果")
        elif cmd.purpose == "评价":
            _still_open(case.case_no, stage, env.occurred_at)
        elif not stage.first_id:
            raise Refusal(409, f"办件 {case.case_no} 的“{stage_name}”服务尚未评价，不能追评")
        token, _ = self.signer.issue(case.case_no, stage_name, cmd.purpose, cmd.channel)
        return RatingLink(token=token, case_no=case.case_no, stage=stage_name, purpose=cmd.purpose, channel=cmd.channel)

    async def rate_correction(self, env: Envelope, cmd: RateCorrection, txn: Txn) -> None:
        try:
            claims = await self._claims(txn, cmd.token)
            if claims.purpose != "整改评价":
                raise Refusal(403, f"该评价码用于{claims.purpose}，不能评价整改结果")
            case = await self._case(txn, env)
            stage = case.stages.get(claims.stage)
            if claims.case_no != case.case_no or stage is None:
                raise Refusal(403, f"该评价码不属于办件 {case.case_no}")
            followup = await self.store.followup(txn, stage.followup_id) if stage.followup_id else None
            if followup is None:
                raise Refusal(409, f"办件 {case.case_no} 没有差评整改")
            change = rate_correction(followup, level_of(cmd.level, cmd.code, cmd.code_table), env.occurred_at)
        except Refusal as refusal:
            txn.refuse(refusal)
            return
        self.store.burn_token(txn, claims.nonce, followup.followup_id)
        self.store.save_followup(txn, followup, change)
        txn.answer(201, body=followup)


def _still_open(case_no: str, stage: StageRecord, at: datetime) -> None:
    if stage.first_id:
        raise Refusal(409, f"办件 {case_no} 的这项服务已评价，不能再发评价链接")
    if stage.window_ends_at is not None and at > stage.window_ends_at:
        raise Refusal(409, "评价期已结束，不能再发评价链接")
