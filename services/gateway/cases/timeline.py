"""Each case's timeline, built from every service's events: what happened, who did it, when."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

import msgspec
from redis.asyncio import Redis

from services.gateway.cases import events
from shared.envelope import Actor, Envelope
from shared.kafka import HandlerTable, Route
from shared.outbox import Txn
from shared.settings import HallSettings

LOCAL = ZoneInfo("Asia/Shanghai")
# Case states in the order a case reaches them; the current state is the furthest one reached.
STATES = ("已受理", "办理中", "已办结", "已出件", "已评价")


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    event_id: str
    type: str
    state: str
    summary: str
    actor: Actor
    at: datetime


_entry = msgspec.json.Decoder(TimelineEntry)


def current_state(entries: list[TimelineEntry]) -> str:
    """Derived from the timeline on every read, so it cannot drift from what happened."""
    reached = [STATES.index(e.state) for e in entries if e.state in STATES]
    return STATES[max(reached)] if reached else "处理中"


class Timeline:
    def __init__(self, settings: HallSettings) -> None:
        self.settings = settings

    def key(self, *parts: str) -> str:
        return self.settings.key("gateway", *parts)

    def table(self) -> HandlerTable:
        return {
            "CaseAccepted.v1": Route(events.CaseAccepted, self.case_accepted),
            "StepOpened.v1": Route(
                events.StepOpened, self._note("办理中", lambda e: f"{e.department}{e.step_name}环节开始")
            ),
            "StepDecided.v1": Route(
                events.StepDecided,
                self._note("办理中", lambda e: f"{e.department}{e.step_name}：{e.action}（{e.opinion}）"),
            ),
            "CaseCompleted.v1": Route(events.CaseCompleted, self._note("已办结", lambda e: f"办结，结果：{e.result}")),
            "CaseDelivered.v1": Route(
                events.CaseDelivered, self._note("已出件", lambda e: f"统一窗口出件（{e.method}）")
            ),
            "ClockStarted.v1": Route(
                events.ClockStarted, self._note("", lambda e: f"开始计时，承诺办结时间 {_local(e.promised_deadline)}")
            ),
            "ClockStopped.v1": Route(
                events.ClockStopped, self._note("", lambda e: "停止计时，" + ("按时办结" if e.on_time else "超期办结"))
            ),
            "ClockRefused.v1": Route(events.ClockRefused, self._note("", lambda e: f"无法计时：{e.reason}")),
            "RatingRecorded.v1": Route(
                events.RatingRecorded, self._note("已评价", lambda e: f"评价：{e.level}（{e.channel}）")
            ),
        }

    def _record(self, txn: Txn, env: Envelope, state: str, summary: str) -> None:
        entry = TimelineEntry(
            event_id=env.event_id, type=env.type, state=state, summary=summary, actor=env.actor, at=env.occurred_at
        )
        key, value = self.key("timeline", env.case_id), msgspec.json.encode(entry)
        txn.write(lambda pipe: pipe.hset(key, env.event_id, value))

    def _note(self, state: str, summary: Callable[[Any], str]) -> Callable[[Envelope, Any, Txn], Any]:
        async def handle(env: Envelope, event: Any, txn: Txn) -> None:
            self._record(txn, env, state, summary(event))

        return handle

    async def case_accepted(self, env: Envelope, event: events.CaseAccepted, txn: Txn) -> None:
        self._record(txn, env, "已受理", f"受理“{event.item_name}”，办件编号 {event.case_no}")
        txn.set(self.key("caseno", event.case_no), env.case_id)

    async def case_id(self, redis: Redis, case_no: str) -> str | None:
        raw = cast("bytes | None", await redis.get(self.key("caseno", case_no)))
        return raw.decode() if raw else None

    async def entries(self, redis: Redis, case_id: str) -> list[TimelineEntry]:
        raw = cast("dict[bytes, bytes]", await redis.hgetall(self.key("timeline", case_id)))
        return sorted((_entry.decode(v) for v in raw.values()), key=lambda e: e.at)


def _local(moment: datetime) -> str:
    return moment.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")
