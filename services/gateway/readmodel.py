"""Read models the gateway builds from every service's events: case timelines and department inboxes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

import msgspec
from redis.asyncio import Redis

from services.gateway import views
from shared.envelope import Actor, Envelope
from shared.kafka import HandlerTable, Route
from shared.outbox import Txn
from shared.settings import HallSettings

# Case states in the order a case reaches them; the current state is the furthest one reached.
LOCAL = ZoneInfo("Asia/Shanghai")
STATES = ("已受理", "办理中", "已办结", "已出件", "已评价")


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    event_id: str
    type: str
    state: str
    summary: str
    actor: Actor
    at: datetime


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


_entry = msgspec.json.Decoder(TimelineEntry)
_step = msgspec.json.Decoder(InboxStep)


def current_state(entries: list[TimelineEntry]) -> str:
    reached = [STATES.index(e.state) for e in entries if e.state in STATES]
    return STATES[max(reached)] if reached else "处理中"


class ReadModel:
    def __init__(self, settings: HallSettings) -> None:
        self.settings = settings

    def key(self, *parts: str) -> str:
        return self.settings.key("gateway", *parts)

    def table(self) -> HandlerTable:
        return {
            "CaseAccepted.v1": Route(views.CaseAccepted, self.case_accepted),
            "StepOpened.v1": Route(views.StepOpened, self.step_opened),
            "StepDecided.v1": Route(views.StepDecided, self.step_decided),
            "CaseCompleted.v1": Route(views.CaseCompleted, self._note("已办结", lambda e: f"办结，结果：{e.result}")),
            "CaseDelivered.v1": Route(
                views.CaseDelivered, self._note("已出件", lambda e: f"统一窗口出件（{e.method}）")
            ),
            "ClockStarted.v1": Route(
                views.ClockStarted, self._note("", lambda e: f"开始计时，承诺办结时间 {_local(e.promised_deadline)}")
            ),
            "ClockStopped.v1": Route(
                views.ClockStopped, self._note("", lambda e: "停止计时，" + ("按时办结" if e.on_time else "超期办结"))
            ),
            "ClockRefused.v1": Route(views.ClockRefused, self._note("", lambda e: f"无法计时：{e.reason}")),
            "RatingRecorded.v1": Route(
                views.RatingRecorded, self._note("已评价", lambda e: f"评价：{e.level}（{e.channel}）")
            ),
        }

    def _record(self, txn: Txn, env: Envelope, state: str, summary: str) -> None:
        entry = TimelineEntry(
            event_id=env.event_id, type=env.type, state=state, summary=summary, actor=env.actor, at=env.occurred_at
        )
        key, value = self.key("timeline", env.case_id), msgspec.json.encode(entry)
        txn.write(lambda pipe: pipe.hset(key, env.event_id, value))

    def _note(self, state: str, summary: Any) -> Any:
        async def handle(env: Envelope, event: Any, txn: Txn) -> None:
            self._record(txn, env, state, summary(event))

        return handle

    async def case_accepted(self, env: Envelope, event: views.CaseAccepted, txn: Txn) -> None:
        self._record(txn, env, "已受理", f"受理“{event.item_name}”，办件编号 {event.case_no}")
        key, case_id = self.key("caseno", event.case_no), env.case_id
        txn.write(lambda pipe: pipe.set(key, case_id))

    async def step_opened(self, env: Envelope, event: views.StepOpened, txn: Txn) -> None:
        self._record(txn, env, "办理中", f"{event.department}{event.step_name}环节开始")
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
        self._save_step(txn, step)

    async def step_decided(self, env: Envelope, event: views.StepDecided, txn: Txn) -> None:
        self._record(txn, env, "办理中", f"{event.department}{event.step_name}：{event.action}（{event.opinion}）")
        raw = await txn.get(self.key("step", event.step_id))
        if raw is None:
            return
        step = _step.decode(raw)
        step.status, step.action, step.opinion = "已办", event.action, event.opinion
        step.handler, step.decided_at = env.actor.name or env.actor.id, event.decided_at
        self._save_step(txn, step)

    def _save_step(self, txn: Txn, step: InboxStep) -> None:
        key, value = self.key("step", step.step_id), msgspec.json.encode(step)
        inbox, step_id, open_ = self.key("inbox", step.department), step.step_id, step.status == "待办"
        txn.write(lambda pipe: pipe.set(key, value))
        txn.write(lambda pipe: pipe.sadd(inbox, step_id) if open_ else pipe.srem(inbox, step_id))

    # Queries, for the HTTP API.

    async def case_id(self, redis: Redis, case_no: str) -> str | None:
        raw = cast("bytes | None", await redis.get(self.key("caseno", case_no)))
        return raw.decode() if raw else None

    async def timeline(self, redis: Redis, case_id: str) -> list[TimelineEntry]:
        raw = cast("dict[bytes, bytes]", await redis.hgetall(self.key("timeline", case_id)))
        return sorted((_entry.decode(v) for v in raw.values()), key=lambda e: e.at)

    async def step(self, redis: Redis, step_id: str) -> InboxStep | None:
        raw = cast("bytes | None", await redis.get(self.key("step", step_id)))
        return _step.decode(raw) if raw else None

    async def inbox(self, redis: Redis, department: str) -> list[InboxStep]:
        ids = cast("set[bytes]", await redis.smembers(self.key("inbox", department)))
        if not ids:
            return []
        raws = await redis.mget([self.key("step", i.decode()) for i in ids])
        return sorted((_step.decode(r) for r in raws if r), key=lambda s: s.opened_at)


def _local(moment: datetime) -> str:
    return moment.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")
