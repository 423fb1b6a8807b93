"""Evaluation's bad-review desk commands: 核实 (reply, appeal or correct), appeal review, one extension, the
return visit and the closing. The correction clock ends with the follow-up, or is replaced by the extension's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from services.evaluation import followups
from services.evaluation.messages import (
    CloseCorrection,
    ExtendCorrection,
    FollowUp,
    RecordReturnVisit,
    ReviewAppeal,
    VerifyBadReview,
)
from services.evaluation.store import Store
from shared.envelope import Envelope
from shared.kafka import HandlerTable, Route
from shared.outbox import Txn
from shared.rating_policy import RatingPolicy
from shared.replies import Refusal

Step = Callable[[FollowUp, Any, Envelope, Txn], Awaitable[str]]


class FollowUps:
    def __init__(self, store: Store, policy: RatingPolicy) -> None:
        self.store = store
        self.policy = policy

    def table(self) -> HandlerTable:
        return {
            "VerifyBadReview.v1": Route(VerifyBadReview, self._command(self.verify)),
            "ReviewAppeal.v1": Route(ReviewAppeal, self._command(self.review)),
            "ExtendCorrection.v1": Route(ExtendCorrection, self._command(self.extend)),
            "RecordReturnVisit.v1": Route(RecordReturnVisit, self._command(self.visit)),
            "CloseCorrection.v1": Route(CloseCorrection, self._command(self.close)),
        }

    def _command(self, step: Step) -> Callable[[Envelope, Any, Txn], Awaitable[None]]:
        """Load the follow-up the command names, take the step, store and publish it, answer with it."""

        async def handle(env: Envelope, cmd: Any, txn: Txn) -> None:
            followup = await self.store.followup(txn, cmd.followup_id)
            if followup is None or followup.case_id != env.case_id:
                txn.answer(404, f"没有编号为 {cmd.followup_id} 的差评记录")
                return
            try:
                change = await step(followup, cmd, env, txn)
            except Refusal as refusal:
                txn.refuse(refusal)
                return
            self.store.save_followup(txn, followup, change)
            txn.answer(200, body=followup)

        return handle

    def _end_clock(self, txn: Txn, followup: FollowUp, env: Envelope) -> None:
        self.store.withdraw_clock(txn, followup.clock_id, "整改", followup.case_no, env.occurred_at)

    async def verify(self, followup: FollowUp, cmd: VerifyBadReview, env: Envelope, txn: Txn) -> str:  # noqa: ARG002
        return followups.verify(followup, cmd, env.actor, env.occurred_at)

    async def review(self, followup: FollowUp, cmd: ReviewAppeal, env: Envelope, txn: Txn) -> str:
        change = followups.review_appeal(followup, cmd, env.actor, self.policy.follow_up.return_visit_for_real_name)
        if followup.status in followups.CLOSED:
            self._end_clock(txn, followup, env)
        return change

    async def extend(self, followup: FollowUp, cmd: ExtendCorrection, env: Envelope, txn: Txn) -> str:
        change = followups.extend(followup, cmd, env.actor)
        assert followup.deadline is not None  # extend() refuses while the deadline is unknown
        self._end_clock(txn, followup, env)
        followup.clock_id = f"{followup.followup_id}:整改:2"
        limit = self.policy.follow_up.extension_limit
        # The extension runs on from the current deadline; timing answers with the new one.
        self.store.request_clock(
            txn,
            clock_id=followup.clock_id,
            purpose="整改",
            case_no=followup.case_no,
            department=followup.department,
            at=followup.deadline,
            limit=limit,
        )
        followup.extended_from = followup.deadline
        followup.deadline, followup.deadline_provisional = None, False  # until timing answers for the new clock
        return change

    async def visit(self, followup: FollowUp, cmd: RecordReturnVisit, env: Envelope, txn: Txn) -> str:
        change = followups.visit(followup, cmd, env.actor, env.occurred_at)
        if followup.visit_clock_id:
            self.store.withdraw_clock(txn, followup.visit_clock_id, "回访", followup.case_no, env.occurred_at)
        return change

    async def close(self, followup: FollowUp, cmd: CloseCorrection, env: Envelope, txn: Txn) -> str:
        rules = self.policy.follow_up
        visits, limit = rules.return_visit_for_real_name, rules.return_visit_limit
        change = followups.close(followup, cmd, env.actor, env.occurred_at, visits, visit_after=limit is not None)
        self._end_clock(txn, followup, env)
        if limit is not None and followups.visit_pending(followup, visits):
            # 回访 within the county's limit after 整改完成 / 无法整改, on timing's clock (预警/逾期 on the board).
            followup.visit_clock_id = f"{followup.followup_id}:回访"
            self.store.request_clock(
                txn,
                clock_id=followup.visit_clock_id,
                purpose="回访",
                case_no=followup.case_no,
                department=followup.department,
                at=env.occurred_at,
                limit=limit,
            )
            change += "；待回访"
        return change
