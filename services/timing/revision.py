"""Revisions: when a year's official schedule arrives, every open clock that used its provisional calendar is
computed again, and each gets one ``DeadlineRevised``.

A clock whose deadlines, warning time or alert levels touch a provisional year is listed in
``timing:provisional:<year>`` when it is saved. Whenever an instance's calendar changes (an operator loaded a
year, or a newer ``chinesecalendar`` came with a restart), it revises the clocks listed under each year that is
official now, a chunk at a time: in one Redis transaction per chunk (WATCHing the clocks) each listed clock
leaves the list, gets its new deadlines, its next alert in the due set and its ``DeadlineRevised`` staged in
the outbox. Several instances may revise at once: a clock changed by another one makes the chunk decide again,
and a clock no longer listed was revised already, so each clock is revised once and loading the same year
twice changes nothing.

Alert levels raised under the provisional dates that are not due under the official ones are retracted (the
clock's revision number goes up, so they fire again, once, when they are due); levels now due that were not
raised are raised by the scheduler at once.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any, cast

from redis.exceptions import WatchError

from services.timing import clocks as c
from services.timing.clocks import ClockState
from services.timing.engine import Engine
from services.timing.messages import DeadlineRevised
from services.timing.outbox import Outbox
from services.timing.store import Keys, decode_clock, encode_clock
from shared import topics
from shared.calendar import WorkingCalendar
from shared.clock import Clock
from shared.envelope import SYSTEM, encode, wrap
from shared.kafka import ServiceRuntime
from shared.outbox import Outgoing

log = logging.getLogger("hall.timing.revision")


class Reviser:
    def __init__(self, runtime: ServiceRuntime, engine: Engine, clock: Clock, outbox: Outbox, chunk: int = 50) -> None:
        self.runtime = runtime
        self.engine = engine
        self.clock = clock
        self.outbox = outbox
        self.chunk = chunk
        self.keys = Keys(runtime.settings)
        self.events = runtime.settings.topic(topics.TIMING_EVENTS)
        self._before: dict[tuple[int, int], WorkingCalendar] = {}

    def before(self, cal: WorkingCalendar, year: int) -> WorkingCalendar:
        """The hall's calendar as it was while ``year`` was provisional."""
        key = (id(cal), year)
        if key not in self._before:
            self._before[key] = WorkingCalendar(cal.sessions, cal.years.without(year))
        return self._before[key]

    async def revise_official(self) -> int:
        """Revises the clocks listed under every provisional year that is official now; how many were revised."""
        redis = self.runtime.redis
        listed = sorted(int(y) for y in cast("set[bytes]", await redis.smembers(self.keys.provisional_years)))
        revised = 0
        for year in listed:
            if self.engine.years.official(year):
                revised += await self.revise(year)
        return revised

    async def revise(self, year: int) -> int:
        redis, index = self.runtime.redis, self.keys.provisional(year)
        revised = 0
        while True:
            members = cast("list[bytes]", await redis.srandmember(index, self.chunk))
            if not members:
                break
            revised += await self._chunk(year, sorted(m.decode() for m in members))
        await self._forget(year)
        if revised:
            log.info("timing: %d clocks revised for the official calendar of %d", revised, year)
        return revised

    async def _forget(self, year: int) -> None:
        """Takes the year off the list once nothing is listed under it (a clock listed meanwhile keeps it)."""
        pipe: Any
        async with self.runtime.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(self.keys.provisional(year))
                if await pipe.scard(self.keys.provisional(year)) == 0:
                    pipe.multi()
                    pipe.srem(self.keys.provisional_years, str(year))
                    await pipe.execute()
            except WatchError:
                pass  # listed meanwhile: the next revision takes it

    async def _chunk(self, year: int, clock_ids: list[str]) -> int:
        while True:
            try:
                return await self._try_chunk(year, clock_ids)
            except WatchError:
                continue  # another instance or a handler changed a clock: decide again

    async def _try_chunk(self, year: int, clock_ids: list[str]) -> int:
        redis, index = self.runtime.redis, self.keys.provisional(year)
        records: list[Outgoing] = []
        pipe: Any
        async with redis.pipeline(transaction=True) as pipe:
            keys = [self.keys.clock(clock_id) for clock_id in clock_ids]
            await pipe.watch(index, *keys)
            raws = cast("list[bytes | None]", await pipe.mget(keys))
            listed = cast("list[int]", await pipe.smismember(index, clock_ids))
            now = self.clock.now()
            pipe.multi()
            for clock_id, raw, still in zip(clock_ids, raws, listed, strict=True):
                if not still:
                    continue
                pipe.srem(index, clock_id)
                if raw is None:
                    continue
                clock = decode_clock(raw)
                if not clock.running:
                    continue
                record = self._revise(clock, year, now)
                self._save(pipe, clock)
                records.append(record)
            ids = self.outbox.stage(pipe, records)
            await pipe.execute()
        await self.outbox.publish(ids, records)
        return len(records)

    def _save(self, pipe: Any, clock: ClockState) -> None:
        cal, policy = self.engine.of(clock)
        pipe.set(self.keys.clock(clock.clock_id), encode_clock(clock))
        upcoming = c.next_alert(clock, cal, policy)
        if upcoming is None:
            pipe.zrem(self.keys.due, clock.clock_id)
        else:
            pipe.zadd(self.keys.due, {clock.clock_id: upcoming[1].timestamp()})
        for other in c.touched_years(clock, cal, policy):
            pipe.sadd(self.keys.provisional(other), clock.clock_id)
            pipe.sadd(self.keys.provisional_years, str(other))

    def _revise(self, clock: ClockState, year: int, now: datetime) -> Outgoing:
        """Recomputes the clock with the official ``year`` (in place) and returns its DeadlineRevised."""
        cal, policy = self.engine.of(clock)
        before = self.before(cal, year)
        old_promised, old_statutory = clock.promised_deadline, clock.statutory_deadline
        old_warning = c.warning_at(clock, before, policy)
        status_before = c.status(clock, now, before, policy)
        c.recompute(clock, cal)
        due = dict(c.alert_times(clock, cal, policy))
        retracted = [level for level in clock.alerted if due.get(level, now) > now]
        if retracted:
            clock.alerted = [level for level in clock.alerted if level not in retracted]
            clock.revision += 1  # the retracted levels fire again when due, as new alerts
        years = c.provisional_years(clock, cal)
        revised = DeadlineRevised(
            clock_id=clock.clock_id,
            purpose=clock.purpose,
            case_no=clock.case_no,
            step_id=clock.step_id,
            department=clock.department,
            year=year,
            source=cal.years.source(year),
            reason=f"{year} 年放假安排已公布，暂定期限按正式安排重新计算",
            old_promised_deadline=old_promised,
            promised_deadline=clock.promised_deadline,
            old_warning_at=old_warning,
            warning_at=c.warning_at(clock, cal, policy),
            old_statutory_deadline=old_statutory,
            statutory_deadline=clock.statutory_deadline,
            status_before=status_before,
            status_after=c.status(clock, now, cal, policy),
            retracted=retracted,
            provisional=bool(years),
            provisional_years=years,
            revised_at=now,
        )
        self.runtime.publications.check(self.events, revised)
        cause = uuid.uuid5(uuid.NAMESPACE_URL, f"timing:{clock.clock_id}:revised:{year}").hex
        envelope = wrap(revised, case_id=clock.case_id, actor=SYSTEM, causation_id=cause, occurred_at=now)
        return Outgoing(self.events, envelope.case_id, encode(envelope))
