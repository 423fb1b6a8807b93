"""Timing's Redis rebuilt from its own log: when its keys are gone, ``timing.events`` is replayed from the start.

Every change of a clock was published there (started, paused, resumed, extended, alerted, revised, stopped,
refused) and so was every year an operator loaded; folding them gives back each clock with its pause ledger,
extensions and the levels already raised, and the due set is filled again from them. Consumers of the input
topics resume at their committed offsets; what they see again is recognised by the clocks' own state.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.timing import clocks as c
from services.timing.clocks import ClockState, Extension, Pause
from services.timing.engine import Engine
from services.timing.messages import (
    CalendarLoaded,
    ClockAlerted,
    ClockExtended,
    ClockPaused,
    ClockRefused,
    ClockResumed,
    ClockStarted,
    ClockStopped,
    DeadlineRevised,
    LimitOut,
)
from services.timing.store import Keys, encode_clock, encode_plan
from shared import topics
from shared.calendar import Limit, YearPlan, Years
from shared.envelope import Envelope, decode
from shared.kafka import ServiceRuntime
from shared.localtime import LOCAL
from shared.settings import HallSettings

log = logging.getLogger("hall.timing.rebuild")
CHUNK = 2000


class Folded:
    """The state ``timing.events`` describes."""

    def __init__(self) -> None:
        self.clocks: dict[str, ClockState] = {}
        self.refused: dict[str, str] = {}
        self.refused_cases: dict[str, str] = {}  # refused clock id → its case id, for healing
        self.revised: set[str] = set()
        self.years: dict[int, YearPlan] = {}
        self.events = 0

    def apply(self, env: Envelope) -> None:
        kind = _KINDS.get(env.type)
        if kind is None:
            return
        self.events += 1
        event: Any = msgspec.json.decode(env.payload, type=kind)
        if isinstance(event, ClockStarted):
            self._started(env, event)
        elif isinstance(event, CalendarLoaded):
            self.years[event.year] = YearPlan(
                year=event.year,
                label=event.label,
                holidays=event.holidays,
                local_holidays=event.local_holidays,
                workdays=event.workdays,
                example=event.example,
                source=event.source,
            )
        elif isinstance(event, ClockRefused):
            self.refused[event.clock_id or env.case_id] = event.reason
            self.refused_cases[event.clock_id or env.case_id] = env.case_id
        else:
            if isinstance(event, DeadlineRevised):
                self.revised.add(event.clock_id)
            clock = self.clocks.get(event.clock_id or env.case_id)
            if clock is not None:
                _change(clock, env, event)

    def _started(self, env: Envelope, event: ClockStarted) -> None:
        clock_id = event.clock_id or env.case_id
        if clock_id in self.clocks:
            return
        promised = event.promised_limit or _NO_LIMIT
        self.clocks[clock_id] = ClockState(
            clock_id=clock_id,
            purpose=event.purpose,
            case_id=env.case_id,
            case_no=event.case_no,
            step_id=event.step_id,
            parent=event.parent,
            department=event.department,
            item_code=event.item_code,
            item_name=event.item_name,
            owner=event.owner,
            owner_name=event.owner_name,
            hall=event.hall,
            started_at=_local(event.started_at),
            promised=Limit(promised.value, promised.unit),
            statutory=Limit(event.statutory_limit.value, event.statutory_limit.unit) if event.statutory_limit else None,
            not_after=event.not_after,
            base_promised=_local(event.promised_deadline),
            base_statutory=event.statutory_deadline,
            promised_deadline=_local(event.promised_deadline),
            statutory_deadline=event.statutory_deadline,
        )


_NO_LIMIT = LimitOut(0, "WD")  # a ClockStarted from before limits were published


def _local(moment: datetime) -> datetime:
    return moment.astimezone(LOCAL)


def _change(clock: ClockState, env: Envelope, event: Any) -> None:
    if isinstance(event, ClockPaused):
        start = _local(event.paused_at)
        c.pause(clock, Pause(pause_id=event.pause_id, reason=event.reason, start=start, cause=env.causation_id))
    elif isinstance(event, ClockResumed):
        for n, entry in enumerate(clock.pauses):
            if entry.pause_id == event.pause_id and entry.end is None:
                clock.pauses[n] = msgspec.structs.replace(
                    entry, end=_local(event.resumed_at), end_cause=env.causation_id
                )
                break
        clock.promised_deadline = _local(event.promised_deadline)
        clock.statutory_deadline = event.statutory_deadline
    elif isinstance(event, ClockExtended):
        limit = Limit(event.limit.value, event.limit.unit)
        clock.extensions.append(Extension(limit=limit, at=_local(event.extended_at), cause=env.causation_id))
        clock.promised_deadline = _local(event.promised_deadline)
        clock.statutory_deadline = event.statutory_deadline
    elif isinstance(event, DeadlineRevised):
        clock.promised_deadline = _local(event.promised_deadline)
        clock.statutory_deadline = event.statutory_deadline
        if event.retracted:
            clock.alerted = [level for level in clock.alerted if level not in event.retracted]
            clock.revision += 1
    elif isinstance(event, ClockAlerted):
        if event.level not in clock.alerted:
            clock.alerted.append(event.level)
    elif isinstance(event, ClockStopped) and clock.stopped_at is None:
        stopped_at = _local(event.stopped_at)
        clock.pauses = [p if p.end is not None else msgspec.structs.replace(p, end=stopped_at) for p in clock.pauses]
        clock.promised_deadline = _local(event.promised_deadline)
        clock.stopped_at = stopped_at


_KINDS: dict[str, type[msgspec.Struct]] = {
    f"{kind.__name__}.v1": kind
    for kind in (
        ClockStarted,
        ClockPaused,
        ClockResumed,
        ClockExtended,
        ClockAlerted,
        ClockStopped,
        ClockRefused,
        CalendarLoaded,
        DeadlineRevised,
    )
}


async def read_topic(settings: HallSettings, name: str) -> list[bytes]:
    """Every record value of a topic of the hall's (``name`` as in :mod:`shared.topics`) up to its end now."""
    topic = settings.topic(name)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        count = next(spec.partitions for spec in topics.ALL if spec.name == name)
        partitions = [TopicPartition(topic, p) for p in range(count)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        waiting = {tp for tp in partitions if ends[tp] > 0}
        while waiting:
            batches = await consumer.getmany(*waiting, timeout_ms=1000)
            for tp, records in batches.items():
                values.extend(r.value for r in records if r.offset < ends[tp] and r.value)
            for tp in list(waiting):
                if await consumer.position(tp) >= ends[tp]:
                    waiting.discard(tp)
    finally:
        await consumer.stop()
    return values


async def read_log(runtime: ServiceRuntime) -> Folded:
    """Every record of ``timing.events`` up to its end now, folded."""
    folded = Folded()
    for value in await read_topic(runtime.settings, topics.TIMING_EVENTS):
        try:
            folded.apply(decode(value))
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning("timing rebuild: skipping an unreadable record")
    return folded


async def rebuild_if_wiped(runtime: ServiceRuntime, engine: Engine) -> Folded | None:
    """If timing's keys are gone, rebuild them from ``timing.events``; None when nothing was missing."""
    keys, redis = Keys(runtime.settings), runtime.redis
    if await redis.exists(keys.built):
        return None
    folded = await read_log(runtime)
    engine.use(Years(folded.years.values()))
    pipe: Any = redis.pipeline(transaction=False)
    for plan in folded.years.values():
        pipe.hset(keys.years, str(plan.year), encode_plan(plan))
    if folded.years:
        pipe.incr(keys.years_version)
    for clock_id, reason in folded.refused.items():
        pipe.set(keys.refused(clock_id), reason)
    for n, clock in enumerate(folded.clocks.values(), start=1):
        cal, policy = engine.of(clock)
        if clock.clock_id in folded.revised and clock.running:
            c.recompute(clock, cal)  # its base deadlines as the official calendar gives them
        pipe.set(keys.clock(clock.clock_id), encode_clock(clock))
        if clock.clock_id != clock.case_id:
            pipe.hset(keys.case(clock.case_id), clock.clock_id, clock.purpose)
        if clock.running:
            for year in c.touched_years(clock, cal, policy):
                pipe.sadd(keys.provisional(year), clock.clock_id)
                pipe.sadd(keys.provisional_years, str(year))
        upcoming = c.next_alert(clock, cal, policy)
        if upcoming is not None:
            pipe.zadd(keys.due, {clock.clock_id: upcoming[1].timestamp()})
        if n % CHUNK == 0:
            await pipe.execute()
    pipe.set(keys.built, str(folded.events))
    await pipe.execute()
    engine.version = -1  # read the years' version again on the next refresh
    log.info(
        "timing rebuilt from %d events: %d clocks, %d refused, %d loaded years",
        folded.events,
        len(folded.clocks),
        len(folded.refused),
        len(folded.years),
    )
    return folded
