"""Routing's handlers and the table of which event or command each one reacts to."""

from __future__ import annotations

import msgspec

from services.routing.messages import (
    CaseAccepted,
    CaseCompleted,
    CaseDelivered,
    DecideStep,
    RecordDelivery,
    StepDecided,
    StepOpened,
)
from services.routing.steps import Refusal, RoutedCase, decide, deliver, open_case
from shared import topics
from shared.envelope import Envelope
from shared.kafka import HandlerTable, Route
from shared.outbox import Txn
from shared.settings import HallSettings

_case = msgspec.json.Decoder(RoutedCase)


class Routing:
    def __init__(self, settings: HallSettings) -> None:
        self.settings = settings
        self.events = settings.topic(topics.ROUTING_EVENTS)

    def table(self) -> HandlerTable:
        return {
            "CaseAccepted.v1": Route(CaseAccepted, self.case_accepted),
            "DecideStep.v1": Route(DecideStep, self.decide_step),
            "RecordDelivery.v1": Route(RecordDelivery, self.record_delivery),
        }

    def _key(self, case_id: str) -> str:
        return self.settings.key("routing", "case", case_id)

    async def _load(self, txn: Txn, case_id: str) -> RoutedCase | None:
        raw = await txn.get(self._key(case_id))
        return None if raw is None else _case.decode(raw)

    def _save(self, txn: Txn, case: RoutedCase) -> None:
        txn.set(self._key(case.case_id), case)

    async def case_accepted(self, env: Envelope, event: CaseAccepted, txn: Txn) -> None:
        if await self._load(txn, env.case_id) is not None:
            return
        case = open_case(env.case_id, event.case_no, event.item_name, event.departments, env.occurred_at)
        self._save(txn, case)
        for step in case.steps:
            txn.emit(
                self.events,
                StepOpened(
                    case_no=case.case_no,
                    step_id=step.step_id,
                    step_name=step.name,
                    department=step.department,
                    item_name=case.item_name,
                    opened_at=step.started_at,
                ),
            )

    async def decide_step(self, env: Envelope, cmd: DecideStep, txn: Txn) -> None:
        case = await self._load(txn, env.case_id)
        if case is None:
            txn.answer(404, f"办件 {env.case_id} 不存在或尚未分办")
            return
        try:
            step = decide(
                case,
                cmd.step_id,
                action=cmd.action,
                opinion=cmd.opinion,
                department=cmd.department,
                handler=env.actor.name or env.actor.id,
                at=env.occurred_at,
            )
        except Refusal as refusal:
            txn.answer(refusal.status, refusal.reason)
            return
        self._save(txn, case)
        txn.emit(
            self.events,
            StepDecided(
                case_no=case.case_no,
                step_id=step.step_id,
                step_name=step.name,
                department=step.department,
                action=cmd.action,
                opinion=cmd.opinion,
                decided_at=env.occurred_at,
            ),
        )
        if case.result is not None:
            txn.emit(self.events, CaseCompleted(case_no=case.case_no, result=case.result, completed_at=env.occurred_at))
        txn.answer(200)

    async def record_delivery(self, env: Envelope, cmd: RecordDelivery, txn: Txn) -> None:
        case = await self._load(txn, env.case_id)
        if case is None:
            txn.answer(404, f"办件 {env.case_id} 不存在或尚未分办")
            return
        try:
            deliver(case)
        except Refusal as refusal:
            txn.answer(refusal.status, refusal.reason)
            return
        self._save(txn, case)
        txn.emit(self.events, CaseDelivered(case_no=case.case_no, method=cmd.method, delivered_at=env.occurred_at))
        txn.answer(200)
