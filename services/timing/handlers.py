"""Timing's handlers: start a case's clock at 受理, stop it at 办结."""

from __future__ import annotations

from datetime import datetime

import msgspec

from services.timing.calendar import UnknownYear, WorkingCalendar
from services.timing.messages import CaseAccepted, CaseCompleted, ClockRefused, ClockStarted, ClockStopped
from shared import topics
from shared.envelope import Envelope
from shared.kafka import HandlerTable, NotYet, Route
from shared.outbox import Txn
from shared.settings import HallSettings


class Clock(msgspec.Struct, kw_only=True):
    case_no: str
    started_at: datetime
    promised_deadline: datetime
    statutory_deadline: datetime | None
    stopped_at: datetime | None = None


_clock = msgspec.json.Decoder(Clock)


class Timing:
    def __init__(self, settings: HallSettings, calendar: WorkingCalendar) -> None:
        self.settings = settings
        self.calendar = calendar
        self.events = settings.topic(topics.TIMING_EVENTS)
        self.due = settings.key("timing", "due")

    def table(self) -> HandlerTable:
        return {
            "CaseAccepted.v1": Route(CaseAccepted, self.start_clock),
            "CaseCompleted.v1": Route(CaseCompleted, self.stop_clock),
        }

    def _key(self, case_id: str) -> str:
        return self.settings.key("timing", "clock", case_id)

    async def start_clock(self, env: Envelope, event: CaseAccepted, txn: Txn) -> None:
        key = self._key(env.case_id)
        if await txn.get(key) is not None:
            return
        try:
            promised = self.calendar.deadline(event.accepted_at, event.promised_limit.value, event.promised_limit.unit)
        except UnknownYear as unknown:
            txn.set(self.settings.key("timing", "refused", env.case_id), str(unknown))
            txn.emit(self.events, ClockRefused(case_no=event.case_no, reason=str(unknown), year=unknown.year))
            return
        statutory: datetime | None
        try:
            statutory, note = (
                self.calendar.deadline(event.accepted_at, event.statutory_limit.value, event.statutory_limit.unit),
                "",
            )
        except UnknownYear as unknown:
            statutory, note = None, f"法定时限：{unknown}"
        clock = Clock(
            case_no=event.case_no,
            started_at=event.accepted_at,
            promised_deadline=promised,
            statutory_deadline=statutory,
        )
        due, case_id = self.due, env.case_id
        txn.set(key, clock)
        txn.write(lambda pipe: pipe.zadd(due, {case_id: promised.timestamp()}))
        started = ClockStarted(
            case_no=event.case_no,
            started_at=event.accepted_at,
            promised_deadline=promised,
            statutory_deadline=statutory,
            statutory_note=note,
        )
        txn.emit(self.events, started)

    async def stop_clock(self, env: Envelope, event: CaseCompleted, txn: Txn) -> None:
        key = self._key(env.case_id)
        raw = await txn.get(key)
        if raw is None:
            if await txn.get(self.settings.key("timing", "refused", env.case_id)) is not None:
                return  # the clock never started: the calendar lacked a year
            # 办结 came in on routing's topic before 受理 on intake's: wait for the clock to start.
            raise NotYet(f"case {env.case_id} completed before its clock started")
        clock = _clock.decode(raw)
        if clock.stopped_at is not None:
            return
        clock.stopped_at = event.completed_at
        due, case_id = self.due, env.case_id
        txn.set(key, clock)
        txn.write(lambda pipe: pipe.zrem(due, case_id))
        txn.emit(
            self.events,
            ClockStopped(
                case_no=event.case_no,
                stopped_at=event.completed_at,
                promised_deadline=clock.promised_deadline,
                on_time=event.completed_at <= clock.promised_deadline,
            ),
        )
