"""Each department's inbox of open steps, built from routing's step events."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import msgspec
from redis.asyncio import Redis

from services.gateway.steps import events
from shared.envelope import Envelope
from shared.kafka import HandlerTable, Route
from shared.outbox import Txn
from shared.settings import HallSettings


class InboxStep(msgspec.Struct, kw_only=True):
    step_id: str
    case_id: str
    case_no: str
    item_name: str
    step_name: str
    department: str
    status: str
    opened_at: datetime
    action: str = ""
    opinion: str = ""
    handler: str = ""
    decided_at: datetime | None = None


_step = msgspec.json.Decoder(InboxStep)


class Inbox:
    def __init__(self, settings: HallSettings) -> None:
        self.settings = settings

    def key(self, *parts: str) -> str:
        return self.settings.key("gateway", *parts)

    def table(self) -> HandlerTable:
        return {
            "StepOpened.v1": Route(events.StepOpened, self.step_opened),
            "StepDecided.v1": Route(events.StepDecided, self.step_decided),
        }

    async def step_opened(self, env: Envelope, event: events.StepOpened, txn: Txn) -> None:
        step = InboxStep(
            step_id=event.step_id,
            case_id=env.case_id,
            case_no=event.case_no,
            item_name=event.item_name,
            step_name=event.step_name,
            department=event.department,
            status="待办",
            opened_at=event.opened_at,
        )
        self._save(txn, step)

    async def step_decided(self, env: Envelope, event: events.StepDecided, txn: Txn) -> None:
        raw = await txn.get(self.key("step", event.step_id))
        if raw is None:
            return  # same topic and key as its StepOpened, so this happens only for a step never opened
        step = _step.decode(raw)
        step.status, step.action, step.opinion = "已办", event.action, event.opinion
        step.handler, step.decided_at = env.actor.name or env.actor.id, event.decided_at
        self._save(txn, step)

    def _save(self, txn: Txn, step: InboxStep) -> None:
        txn.set(self.key("step", step.step_id), step)
        inbox, step_id, still_open = self.key("inbox", step.department), step.step_id, step.status == "待办"
        txn.write(lambda pipe: pipe.sadd(inbox, step_id) if still_open else pipe.srem(inbox, step_id))

    async def step(self, redis: Redis, step_id: str) -> InboxStep | None:
        raw = cast("bytes | None", await redis.get(self.key("step", step_id)))
        return _step.decode(raw) if raw else None

    async def open_steps(self, redis: Redis, department: str) -> list[InboxStep]:
        ids = cast("set[bytes]", await redis.smembers(self.key("inbox", department)))
        if not ids:
            return []
        raws = await redis.mget([self.key("step", i.decode()) for i in ids])
        return sorted((_step.decode(r) for r in raws if r), key=lambda s: s.opened_at)
