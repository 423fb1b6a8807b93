"""Timing's handlers: clocks start, pause, resume, run on and stop with the other services' events.

Every change of a clock is published on ``timing.events`` (with what a rebuild needs) and, in the same Redis
transaction, the clock's next alert goes into the due set. Each handler is idempotent on the clock's own
state too, so an event redelivered after timing's Redis was wiped and rebuilt changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from redis.asyncio.client import Pipeline

from services.timing import clocks as c
from services.timing import plans
from services.timing.clocks import PAUSABLE, ClockState, Pause
from services.timing.engine import Engine
from services.timing.messages import (
    CaseAccepted,
    CaseCompleted,
    CaseReturned,
    CaseSuspended,
    ChildCompleted,
    ClockRequested,
    ClockWithdrawn,
    ExtensionApproved,
    HandedOver,
    MaterialsSupplemented,
    SpecialProcedureEnded,
    SpecialProcedureStarted,
    StepDecided,
    StepOpened,
    StepResumed,
)
from services.timing.store import Keys, decode_clock, encode_clock
from shared import topics
from shared.envelope import Envelope
from shared.kafka import HandlerTable, NotYet, Route
from shared.localtime import LOCAL
from shared.outbox import Txn
from shared.settings import HallSettings

SUSPENDED, WAITING = plans.SUSPENDED, plans.WAITING


class Timing:
    def __init__(self, settings: HallSettings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.keys = Keys(settings)
        self.events = settings.topic(topics.TIMING_EVENTS)

    def table(self) -> HandlerTable:
        return {
            "CaseAccepted.v1": Route(CaseAccepted, self.case_accepted),
            "CaseSuspended.v1": Route(CaseSuspended, self.case_suspended),
            "MaterialsSupplemented.v1": Route(MaterialsSupplemented, self.materials_supplemented),
            "ClockRequested.v1": Route(ClockRequested, self.clock_requested),
            "ClockWithdrawn.v1": Route(ClockWithdrawn, self.clock_withdrawn),
            "StepOpened.v1": Route(StepOpened, self.step_opened),
            "StepDecided.v1": Route(StepDecided, self.step_decided),
            "StepResumed.v1": Route(StepResumed, self.step_resumed),
            "SpecialProcedureStarted.v1": Route(SpecialProcedureStarted, self.special_procedure_started),
            "SpecialProcedureEnded.v1": Route(SpecialProcedureEnded, self.special_procedure_ended),
            "ExtensionApproved.v1": Route(ExtensionApproved, self.extension_approved),
            "ChildCompleted.v1": Route(ChildCompleted, self.child_completed),
            "CaseCompleted.v1": Route(CaseCompleted, self.case_completed),
            "CaseReturned.v1": Route(CaseReturned, self.case_returned),
            "HandedOver.v1": Route(HandedOver, self.handed_over),
        }

    # ------------------------------------------------------------------ state

    async def load(self, txn: Txn, clock_id: str) -> ClockState | None:
        raw = await txn.get(self.keys.clock(clock_id))
        return None if raw is None else decode_clock(raw)

    async def refused(self, txn: Txn, clock_id: str) -> bool:
        return await txn.get(self.keys.refused(clock_id)) is not None

    async def case_clocks(self, txn: Txn, case_id: str) -> list[ClockState]:
        """The case's own clock (its id is the case id) and every other clock the case's index lists."""
        others = sorted(clock_id.decode() for clock_id in await txn.hgetall(self.keys.case(case_id)))
        found = [await self.load(txn, clock_id) for clock_id in [case_id, *others]]
        return [clock for clock in found if clock is not None]

    async def case_clock(self, txn: Txn, case_id: str) -> ClockState:
        """The case's own clock; waits for it (NotYet) unless the calendar refused to start it."""
        clock = await self.load(txn, case_id)
        if clock is not None:
            return clock
        if await self.refused(txn, case_id):
            raise _Refused
        raise NotYet(f"case {case_id}: an event came before its clock started")

    def save(self, txn: Txn, clock: ClockState) -> None:
        """The clock, its place in the case's index and in the provisional years' indexes, and its next alert
        in the due set."""
        cal, policy = self.engine.of(clock)
        upcoming = c.next_alert(clock, cal, policy)
        key, data, due, member = self.keys.clock(clock.clock_id), encode_clock(clock), self.keys.due, clock.clock_id
        index, purpose = self.keys.case(clock.case_id), clock.purpose
        txn.set(key, data)
        if clock.clock_id != clock.case_id:  # the case's own clock is found by the case id
            txn.write(lambda pipe: pipe.hset(index, member, purpose))
        if upcoming is None:
            txn.write(lambda pipe: pipe.zrem(due, member))
        else:
            score = upcoming[1].timestamp()
            txn.write(lambda pipe: pipe.zadd(due, {member: score}))
        if clock.running:
            for year in c.touched_years(clock, cal, policy):
                txn.write(partial(index_provisional, self.keys, year, member))

    def timing(self, clock: ClockState) -> plans.Timed:
        """The clock's deadlines as published: with its warning time and whether they are provisional."""
        cal, policy = self.engine.of(clock)
        years = c.provisional_years(clock, cal)
        return plans.Timed(
            promised_deadline=clock.promised_deadline,
            statutory_deadline=clock.statutory_deadline,
            warning_at=c.warning_at(clock, cal, policy),
            provisional=bool(years),
            provisional_years=years,
        )

    # ------------------------------------------------------------------ starting

    async def start(self, txn: Txn, env: Envelope, plan: plans.Start) -> ClockState:
        """Starts a clock and publishes ClockStarted (a year without an official schedule: provisional); a clock
        that starts waiting is paused at once."""
        clock = c.start_clock(
            self.engine.calendar(plan.hall),
            clock_id=plan.clock_id,
            purpose=plan.purpose,
            case_id=plan.case_id,
            case_no=plan.case_no,
            started_at=plan.started_at,
            promised=plan.promised,
            statutory=plan.statutory,
            not_after=plan.not_after,
            step_id=plan.step_id,
            parent=plan.parent,
            department=plan.department,
            item_code=plan.item_code,
            item_name=plan.item_name,
            owner=plan.owner,
            owner_name=plan.owner_name,
            hall=plan.hall,
        )
        self.save(txn, clock)
        txn.emit(self.events, plans.started_event(clock, self.timing(clock), plan.step_name))
        if plan.waits is not None:
            self.pause(txn, env, [clock], pause_id=plan.waits.pause_id, reason=plan.waits.reason, at=plan.started_at)
        return clock

    async def case_accepted(self, env: Envelope, event: CaseAccepted, txn: Txn) -> None:
        if await self.load(txn, env.case_id) is not None or await self.refused(txn, env.case_id):
            return
        for plan in plans.accepted(env.case_id, event):
            await self.start(txn, env, plan)

    async def clock_requested(self, env: Envelope, event: ClockRequested, txn: Txn) -> None:
        if await self.load(txn, event.clock_id) is not None or await self.refused(txn, event.clock_id):
            return
        case = await self.load(txn, env.case_id)
        await self.start(txn, env, plans.requested(env.case_id, event, case, env.occurred_at))

    async def step_opened(self, env: Envelope, event: StepOpened, txn: Txn) -> None:
        if event.limit is None or await self.load(txn, event.step_id) is not None:
            return
        if await self.refused(txn, event.step_id):
            return
        try:
            case = await self.case_clock(txn, env.case_id)
        except _Refused:
            return
        opened_at = event.opened_at or env.occurred_at
        parent = plans.step_parent(event, case)
        child = await self.load(txn, parent) if parent else None
        if child is not None:
            await self.resume(txn, env, [child], f"{WAITING}:{child.clock_id}", opened_at)
        await self.start(txn, env, plans.step(env.case_id, event, case, child, opened_at))

    # ------------------------------------------------------------------ pauses and extensions

    def pause(
        self, txn: Txn, env: Envelope, targets: list[ClockState], *, pause_id: str, reason: str, at: datetime
    ) -> None:
        for clock in targets:
            if clock.saw(env.event_id):
                continue
            entry = Pause(pause_id=pause_id, reason=reason, start=at.astimezone(LOCAL), cause=env.event_id)
            if c.pause(clock, entry):
                self.save(txn, clock)
                txn.emit(self.events, plans.paused_event(clock, entry))

    async def resume(self, txn: Txn, env: Envelope, targets: list[ClockState], pause_id: str, at: datetime) -> None:
        for clock in targets:
            if clock.saw(env.event_id):
                continue
            if not c.resume(clock, pause_id, at, env.event_id, self.engine.calendar(clock.hall)):
                continue
            self.save(txn, clock)
            txn.emit(self.events, plans.resumed_event(clock, self.timing(clock), pause_id, at.astimezone(LOCAL)))

    async def around_step(self, txn: Txn, case_id: str, step_id: str, item_case_no: str = "") -> list[ClockState]:
        """The clocks a step's pause holds: the case's, the step's own and its bundle child's (every running
        clock of the case when no step is named)."""
        case = await self.case_clock(txn, case_id)
        if not step_id:
            return await self.running(txn, case_id)
        step = await self.load(txn, step_id)
        child_id = step.parent if step is not None else item_case_no
        child = await self.load(txn, child_id) if child_id and child_id != case.case_no else None
        return [clock for clock in (case, child, step) if clock is not None]

    async def running(self, txn: Txn, case_id: str) -> list[ClockState]:
        """Every running case, child and step clock of a case (requested deadlines run on regardless)."""
        return [k for k in await self.case_clocks(txn, case_id) if k.running and k.purpose in PAUSABLE]

    async def step_decided(self, env: Envelope, event: StepDecided, txn: Txn) -> None:
        at = event.decided_at or env.occurred_at
        if event.action == "退回":
            try:
                targets = await self.around_step(txn, env.case_id, event.step_id, event.item_case_no)
            except _Refused:
                return
            self.pause(txn, env, targets, pause_id=f"退回:{event.step_id}", reason="退回补正", at=at)
            return
        step = await self.load(txn, event.step_id)
        if step is not None:
            await self.stop(txn, env, step, at, f"环节{event.action}")

    async def step_resumed(self, env: Envelope, event: StepResumed, txn: Txn) -> None:
        clocks = await self.case_clocks(txn, env.case_id)
        await self.resume(txn, env, clocks, f"退回:{event.step_id}", event.resumed_at or env.occurred_at)

    async def special_procedure_started(self, env: Envelope, event: SpecialProcedureStarted, txn: Txn) -> None:
        try:
            targets = await self.around_step(txn, env.case_id, event.step_id)
        except _Refused:
            return
        wait = plans.special_procedure(env.case_id, event.step_id, event.kind, event.reason)
        at = event.started_at or env.occurred_at
        self.pause(txn, env, targets, pause_id=wait.pause_id, reason=wait.reason, at=at)

    async def special_procedure_ended(self, env: Envelope, event: SpecialProcedureEnded, txn: Txn) -> None:
        clocks = await self.case_clocks(txn, env.case_id)
        pause_id = plans.special_procedure(env.case_id, event.step_id).pause_id
        await self.resume(txn, env, clocks, pause_id, event.ended_at or env.occurred_at)

    async def case_suspended(self, env: Envelope, event: CaseSuspended, txn: Txn) -> None:
        try:
            await self.case_clock(txn, env.case_id)
        except _Refused:
            return
        reason = plans.suspended(event.reason)
        targets = await self.running(txn, env.case_id)
        at = event.suspended_at or env.occurred_at
        self.pause(txn, env, targets, pause_id=SUSPENDED, reason=reason, at=at)
        await self.suspension_clock(txn, env, env.case_id, at)

    async def suspension_clock(self, txn: Txn, env: Envelope, case_id: str, at: datetime) -> None:
        """容缺中止 has a further period (data/halls.toml ``suspension``, by the case's hall): its 逾期 with the
        materials still owed makes the case 退件 (routing)."""
        case = await self.load(txn, case_id)
        if case is None or await self.load(txn, f"{case_id}:{SUSPENDED}") is not None:
            return
        await self.start(txn, env, plans.suspension(case, at, self.engine.policy(case.hall).suspension))

    async def materials_supplemented(self, env: Envelope, event: MaterialsSupplemented, txn: Txn) -> None:
        if event.complete:
            at = event.supplemented_at or env.occurred_at
            clocks = await self.case_clocks(txn, env.case_id)
            await self.resume(txn, env, clocks, SUSPENDED, at)
            for clock in clocks:
                if clock.purpose == SUSPENDED:
                    await self.stop(txn, env, clock, at, "容缺材料已补齐")

    async def extension_approved(self, env: Envelope, event: ExtensionApproved, txn: Txn) -> None:
        clocks = await self.case_clocks(txn, env.case_id)
        if not clocks and not await self.refused(txn, env.case_id):
            raise NotYet(f"case {env.case_id}: 延长 came before its clock started")
        targets = plans.extended(clocks, event.clock_ids, event.step_id, env.case_id)
        limit, at = plans.limit_of(event.extension), (event.approved_at or env.occurred_at).astimezone(LOCAL)
        for clock in targets:
            if clock.saw(env.event_id):
                continue
            c.extend(clock, limit, at, env.event_id, self.engine.calendar(clock.hall))
            self.save(txn, clock)
            txn.emit(self.events, plans.extended_event(clock, self.timing(clock), limit, at))

    # ------------------------------------------------------------------ stopping

    async def stop(
        self, txn: Txn, env: Envelope, clock: ClockState, at: datetime, reason: str, *, outcome: str = ""
    ) -> None:
        if not clock.running:
            return
        cal, local_at = self.engine.calendar(clock.hall), at.astimezone(LOCAL)
        c.stop(clock, local_at, env.event_id, cal)
        self.save(txn, clock)
        used = c.used(clock, cal)
        txn.emit(
            self.events, plans.stopped_event(clock, local_at, reason, outcome, on_time=c.on_time(clock), used=used)
        )

    async def child_completed(self, env: Envelope, event: ChildCompleted, txn: Txn) -> None:
        child = await self.load(txn, event.child_case_no)
        if child is None:
            return  # the case's clock was refused by an older version (see heal.py)
        await self.stop(txn, env, child, event.completed_at or env.occurred_at, "子件办结")

    async def case_completed(self, env: Envelope, event: CaseCompleted, txn: Txn) -> None:
        try:
            await self.case_clock(txn, env.case_id)
        except _Refused:
            return
        for clock in await self.running(txn, env.case_id):
            await self.stop(txn, env, clock, event.completed_at, plans.completed(clock))

    async def handed_over(self, env: Envelope, event: HandedOver, txn: Txn) -> None:
        """跨省通办: the case went to the other jurisdiction; the local clock stops (on time or not)."""
        try:
            case = await self.case_clock(txn, env.case_id)
        except _Refused:
            return
        await self.stop(txn, env, case, event.handed_over_at or env.occurred_at, plans.handed_over(event.jurisdiction))

    async def case_returned(self, env: Envelope, event: CaseReturned, txn: Txn) -> None:
        """退件: every clock of the case still running stops with that outcome (neither on time nor overdue)."""
        try:
            await self.case_clock(txn, env.case_id)
        except _Refused:
            return
        at = event.returned_at or env.occurred_at
        reason = plans.returned(event.cause)
        for clock in await self.case_clocks(txn, env.case_id):
            await self.stop(txn, env, clock, at, reason, outcome=plans.RETURNED)

    async def clock_withdrawn(self, env: Envelope, event: ClockWithdrawn, txn: Txn) -> None:
        clock = await self.load(txn, event.clock_id)
        if clock is not None:
            await self.stop(txn, env, clock, event.withdrawn_at or env.occurred_at, plans.withdrawn(clock))


class _Refused(Exception):
    """The case's clock was refused by an older version for a year it lacked: events about it wait for
    :mod:`services.timing.heal`, which computes it when timing starts."""


def index_provisional(keys: Keys, year: int, clock_id: str, pipe: Pipeline) -> None:
    """Notes that the clock depends on the provisional ``year``: it is revised when the year becomes official."""
    pipe.sadd(keys.provisional(year), clock_id)
    pipe.sadd(keys.provisional_years, str(year))
