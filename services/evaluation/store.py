"""Evaluation's Redis keys, read and written through the handled record's transaction (:class:`Txn`)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from services.evaluation.messages import ClockPurpose, ClockRequested, ClockWithdrawn, FollowUp, FollowUpChanged
from services.evaluation.ratings import CaseFile
from shared import topics
from shared.envelope import Actor
from shared.outbox import Txn
from shared.rating_policy import Limit
from shared.settings import HallSettings

_case = msgspec.json.Decoder(CaseFile)
_followup = msgspec.json.Decoder(FollowUp)


class Store:
    def __init__(self, settings: HallSettings) -> None:
        self.settings = settings
        self.events = settings.topic(topics.EVALUATION_EVENTS)

    def _key(self, *parts: str) -> str:
        return self.settings.key("evaluation", *parts)

    async def case(self, txn: Txn, case_id: str) -> CaseFile | None:
        raw = await txn.get(self._key("case", case_id))
        return None if raw is None else _case.decode(raw)

    def save_case(self, txn: Txn, case_id: str, case: CaseFile) -> None:
        txn.set(self._key("case", case_id), case)

    async def followup(self, txn: Txn, followup_id: str) -> FollowUp | None:
        raw = await txn.get(self._key("followup", followup_id))
        return None if raw is None else _followup.decode(raw)

    def save_followup(self, txn: Txn, followup: FollowUp, change: str, actor: Actor | None = None) -> None:
        """Store the follow-up after a change and publish it whole (``actor``: who changed it, if not the cause's)."""
        followup.revision += 1
        txn.set(self._key("followup", followup.followup_id), followup)
        txn.emit(self.events, FollowUpChanged(change=change, followup=followup), actor=actor)

    async def token_used(self, txn: Txn, nonce: str) -> bool:
        return await txn.get(self._key("token", nonce)) is not None

    def burn_token(self, txn: Txn, nonce: str, rating_id: str) -> None:
        txn.set(self._key("token", nonce), rating_id)

    def request_clock(
        self,
        txn: Txn,
        *,
        clock_id: str,
        purpose: ClockPurpose,
        case_no: str,
        department: str,
        at: datetime,
        limit: Limit,
    ) -> None:
        txn.emit(
            self.events,
            ClockRequested(
                clock_id=clock_id,
                purpose=purpose,
                case_no=case_no,
                department=department,
                starts_at=at,
                limit=limit,
            ),
        )

    def withdraw_clock(self, txn: Txn, clock_id: str, purpose: ClockPurpose, case_no: str, at: datetime) -> None:
        txn.emit(self.events, ClockWithdrawn(clock_id=clock_id, purpose=purpose, case_no=case_no, withdrawn_at=at))
