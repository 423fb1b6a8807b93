"""Evaluation's handlers: learn of cases, open them for rating at delivery, record one rating each."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from services.evaluation.messages import BAD, CaseAccepted, CaseDelivered, RatingRecorded, SubmitRating
from shared import topics
from shared.envelope import Envelope, now
from shared.kafka import HandlerTable, NotYet, Route
from shared.outbox import Txn
from shared.settings import HallSettings


class RateableCase(msgspec.Struct, kw_only=True):
    case_no: str
    item_code: str
    departments: list[str]
    clerk: str
    delivered_at: datetime | None = None
    rated_at: datetime | None = None


_case = msgspec.json.Decoder(RateableCase)
CAUSAL_GRACE = timedelta(seconds=10)


class Evaluation:
    def __init__(self, settings: HallSettings) -> None:
        self.settings = settings

    def table(self) -> HandlerTable:
        return {
            "CaseAccepted.v1": Route(CaseAccepted, self.case_accepted),
            "CaseDelivered.v1": Route(CaseDelivered, self.case_delivered),
            "SubmitRating.v1": Route(SubmitRating, self.submit_rating),
        }

    def _key(self, case_id: str) -> str:
        return self.settings.key("evaluation", "case", case_id)

    def _save(self, txn: Txn, case_id: str, case: RateableCase) -> None:
        txn.set(self._key(case_id), case)

    async def case_accepted(self, env: Envelope, event: CaseAccepted, txn: Txn) -> None:
        if await txn.get(self._key(env.case_id)) is None:
            self._save(
                txn,
                env.case_id,
                RateableCase(
                    case_no=event.case_no, item_code=event.item_code, departments=event.departments, clerk=env.actor.id
                ),
            )

    async def case_delivered(self, env: Envelope, event: CaseDelivered, txn: Txn) -> None:
        raw = await txn.get(self._key(env.case_id))
        if raw is None:
            raise NotYet(f"case {env.case_id} delivered before evaluation learnt of its acceptance")
        case = _case.decode(raw)
        if case.delivered_at is None:
            case.delivered_at = event.delivered_at
            self._save(txn, env.case_id, case)

    async def submit_rating(self, env: Envelope, cmd: SubmitRating, txn: Txn) -> None:
        raw = await txn.get(self._key(env.case_id))
        case = None if raw is None else _case.decode(raw)
        if case is None or case.delivered_at is None:
            if now() - env.occurred_at < CAUSAL_GRACE:
                # The gateway saw the delivery; routing's event may still be on its way here.
                raise NotYet(f"case {env.case_id} not yet known as delivered")
            txn.answer(
                404 if case is None else 409,
                "没有该办件，无法评价" if case is None else f"办件 {case.case_no} 尚未出件，暂不能评价",
            )
            return
        if case.rated_at is not None:
            txn.answer(409, f"办件 {case.case_no} 已于 {case.rated_at:%Y-%m-%d %H:%M} 评价，不能重复评价")
            return
        case.rated_at = env.occurred_at
        self._save(txn, env.case_id, case)
        txn.emit(
            self.settings.topic(topics.EVALUATION_EVENTS),
            RatingRecorded(
                case_no=case.case_no,
                item_code=case.item_code,
                departments=case.departments,
                clerk=case.clerk,
                level=cmd.level,
                channel=cmd.channel,
                text=cmd.text,
                bad_review=cmd.level in BAD,
                rated_at=env.occurred_at,
            ),
        )
        txn.answer(201)
