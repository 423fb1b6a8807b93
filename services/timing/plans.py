"""Timing's decisions, pure: which clocks an event starts (and whether one starts waiting), why a pause or a stop
happens, which clocks an extension moves, and the events that publish a clock's change.

The handler (services/timing/handlers.py) loads the clocks these need from Redis, applies the plans through
:mod:`services.timing.clocks` and saves; the functions here touch neither Redis nor Kafka.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from services.timing.clocks import CASE, CHILD, STEP, ClockState, Pause
from services.timing.engine import DEFAULT_HALL
from services.timing.messages import (
    CaseAccepted,
    ClockExtended,
    ClockPaused,
    ClockRequested,
    ClockResumed,
    ClockStarted,
    ClockStopped,
    LimitIn,
    LimitOut,
    StepOpened,
)
from shared.calendar import Limit
from shared.catalogue import HANDOVER_LIMIT

SUSPENDED = "容缺中止"  # the pause of a suspended case's clocks, and the purpose of the clock on its further period
WAITING = "待前序阶段"
RETURNED = "退件"
RETURN = "退回补正"  # the purpose of routing's clock on a return's limit
NUMBERED = (CASE, CHILD)  # clocks routing may name by their case no
SUPPLEMENT = "补齐"


def limit_of(limit: LimitIn) -> Limit:
    return Limit(limit.value, limit.unit)


def limit_out(limit: Limit | None) -> LimitOut | None:
    return None if limit is None else LimitOut(limit.value, limit.unit)


class Wait(msgspec.Struct, frozen=True):
    """A pause a clock starts in (a later stage, a child waiting for its prerequisites)."""

    pause_id: str
    reason: str


class Start(msgspec.Struct, frozen=True, kw_only=True):
    """A clock to start: the arguments of :func:`services.timing.clocks.start_clock`, its step's name, its wait."""

    clock_id: str
    purpose: str
    case_id: str
    case_no: str
    started_at: datetime
    promised: Limit
    statutory: Limit | None = None
    not_after: datetime | None = None
    step_id: str = ""
    step_name: str = ""
    parent: str = ""
    department: str = ""
    item_code: str = ""
    item_name: str = ""
    owner: str = ""
    owner_name: str = ""
    hall: str = DEFAULT_HALL
    waits: Wait | None = None


# ---------------------------------------------------------------------------------------------- starting


def accepted(case_id: str, event: CaseAccepted) -> list[Start]:
    """The case's clock, and a 一件事's children's: a later stage, or a child waiting for its prerequisites
    (一件事的前后置), stands still until its first step opens. 跨省通办: only our part, the handover, is timed."""
    department = event.approving_department or "、".join(event.departments)
    case = Start(
        clock_id=case_id,
        purpose=CASE,
        case_id=case_id,
        case_no=event.case_no,
        started_at=event.accepted_at,
        promised=limit_of(event.promised_limit),
        statutory=limit_of(event.statutory_limit),
        department=department,
        item_code=event.item_code,
        item_name=event.item_name,
        owner=event.owner,
        owner_name=event.owner_name,
        hall=event.point or DEFAULT_HALL,
    )
    if event.cross_province:
        # The other province's time is not charged to our department (the clock stops at HandedOver).
        limit = event.handover_limit or HANDOVER_LIMIT  # a record without it: the hall's default
        return [msgspec.structs.replace(case, promised=Limit(limit.value, limit.unit), statutory=None)]
    if not event.children:
        return [case]
    first_stage = min(child.stage for child in event.children)
    starts = [case]
    for child in event.children:
        waits = None
        if child.stage > first_stage or child.needs:
            reason = f"等待前序阶段办结（第 {child.stage} 阶段{child.stage_name}）"
            if child.stage == first_stage:
                reason = "等待前置事项准予"
            waits = Wait(f"{WAITING}:{child.case_no}", reason)
        starts.append(
            msgspec.structs.replace(
                case,
                clock_id=child.case_no,
                purpose=CHILD,
                case_no=child.case_no,
                promised=limit_of(child.promised_limit),
                statutory=limit_of(child.statutory_limit) if child.statutory_limit else None,
                department=child.department,
                item_code=child.item_code,
                item_name=child.item_name,
                waits=waits,
            )
        )
    return starts


def requested(case_id: str, event: ClockRequested, case: ClockState | None, occurred_at: datetime) -> Start:
    """A clock another service asked for; what it does not say comes from the case's clock. 补齐 is never later
    than the case's promised deadline."""
    not_after = event.not_after
    if not_after is None and event.purpose == SUPPLEMENT and case is not None:
        not_after = case.promised_deadline
    return Start(
        clock_id=event.clock_id,
        purpose=event.purpose,
        case_id=case_id,
        case_no=event.case_no or (case.case_no if case else ""),
        started_at=event.starts_at or occurred_at,
        promised=limit_of(event.limit),
        not_after=not_after,
        department=event.department or (case.department if case else ""),
        item_code=case.item_code if case else "",
        item_name=case.item_name if case else "",
        owner=case.owner if case else "",
        owner_name=case.owner_name if case else "",
        hall=case.hall if case else DEFAULT_HALL,
    )


def step_parent(event: StepOpened, case: ClockState) -> str:
    """The bundle child a step belongs to ("" for a step of the case itself)."""
    return event.item_case_no if event.item_case_no and event.item_case_no != case.case_no else ""


def step(case_id: str, event: StepOpened, case: ClockState, child: ClockState | None, opened_at: datetime) -> Start:
    """A step's clock (``event.limit`` is set): under its child's clock when the child has one."""
    assert event.limit is not None
    return Start(
        clock_id=event.step_id,
        purpose=STEP,
        case_id=case_id,
        case_no=event.item_case_no or event.case_no,
        step_id=event.step_id,
        step_name=event.step_name,
        parent=child.clock_id if child is not None else "",
        started_at=opened_at,
        promised=limit_of(event.limit),
        department=event.department,
        item_code=event.item_code or case.item_code,
        item_name=event.item_name or case.item_name,
        owner=case.owner,
        owner_name=case.owner_name,
        hall=case.hall,
    )


def suspension(case: ClockState, at: datetime, limit: Limit) -> Start:
    """容缺中止's further period (the hall's ``suspension``): its 逾期 with materials still owed makes the case 退件."""
    return Start(
        clock_id=f"{case.case_id}:{SUSPENDED}",
        purpose=SUSPENDED,
        case_id=case.case_id,
        case_no=case.case_no,
        started_at=at,
        promised=limit,
        department=case.department,
        item_code=case.item_code,
        item_name=case.item_name,
        owner=case.owner,
        owner_name=case.owner_name,
        hall=case.hall,
    )


# ---------------------------------------------------------------------------------------------- why


def suspended(reason: str) -> str:
    return SUSPENDED + (f"：{reason}" if reason else "")


def special_procedure(case_id: str, step_id: str, kind: str = "", reason: str = "") -> Wait:
    """特别程序's pause: one per step (or per case without a step); its reason names the procedure."""
    return Wait(f"特别程序:{step_id or case_id}", f"特别程序（{kind}）" + (f"：{reason}" if reason else ""))


def returned(cause: str) -> str:
    return RETURNED + (f"（{cause}逾期未补正）" if cause else "")


def handed_over(jurisdiction: str) -> str:
    return f"已移交{jurisdiction}办理" if jurisdiction else "已移交"


def withdrawn(clock: ClockState) -> str:
    return "已恢复办理" if clock.purpose == RETURN else "撤回"


def completed(clock: ClockState) -> str:
    return "办结" if clock.purpose == CASE else "随办件办结"


def extended(clocks: list[ClockState], clock_ids: list[str], step_id: str, case_id: str) -> list[ClockState]:
    """The running clocks an approved 延长 moves: those named (a clock id, or a case or child clock's case no),
    or the step's and the case's when none is named."""
    names = set(clock_ids) or {step_id, case_id}
    return [
        k for k in clocks if k.running and (k.clock_id in names or (k.purpose in (CASE, CHILD) and k.case_no in names))
    ]


# ---------------------------------------------------------------------------------------------- facts published


class Timed(msgspec.Struct, frozen=True, kw_only=True):
    """A clock's deadlines as published: with its warning time and whether they are provisional."""

    promised_deadline: datetime
    statutory_deadline: datetime | None
    warning_at: datetime | None
    provisional: bool
    provisional_years: list[int]


def started_event(clock: ClockState, timed: Timed, step_name: str = "") -> ClockStarted:
    return ClockStarted(
        case_no=clock.case_no,
        started_at=clock.started_at,
        promised_deadline=clock.promised_deadline,
        statutory_deadline=clock.statutory_deadline,
        clock_id=clock.clock_id,
        purpose=clock.purpose,
        step_id=clock.step_id,
        step_name=step_name,
        parent=clock.parent,
        department=clock.department,
        item_code=clock.item_code,
        item_name=clock.item_name,
        owner=clock.owner,
        owner_name=clock.owner_name,
        hall=clock.hall,
        promised_limit=limit_out(clock.promised),
        statutory_limit=limit_out(clock.statutory),
        not_after=clock.not_after,
        warning_at=timed.warning_at,
        provisional=timed.provisional,
        provisional_years=timed.provisional_years,
    )


def paused_event(clock: ClockState, entry: Pause) -> ClockPaused:
    return ClockPaused(
        clock_id=clock.clock_id,
        purpose=clock.purpose,
        case_no=clock.case_no,
        step_id=clock.step_id,
        pause_id=entry.pause_id,
        reason=entry.reason,
        paused_at=entry.start,
    )


def resumed_event(clock: ClockState, timed: Timed, pause_id: str, at: datetime) -> ClockResumed:
    return ClockResumed(
        clock_id=clock.clock_id,
        purpose=clock.purpose,
        case_no=clock.case_no,
        step_id=clock.step_id,
        pause_id=pause_id,
        resumed_at=at,
        promised_deadline=clock.promised_deadline,
        statutory_deadline=clock.statutory_deadline,
        warning_at=timed.warning_at,
        provisional=timed.provisional,
        provisional_years=timed.provisional_years,
    )


def extended_event(clock: ClockState, timed: Timed, limit: Limit, at: datetime) -> ClockExtended:
    return ClockExtended(
        clock_id=clock.clock_id,
        purpose=clock.purpose,
        case_no=clock.case_no,
        step_id=clock.step_id,
        limit=LimitOut(limit.value, limit.unit),
        extended_at=at,
        promised_deadline=clock.promised_deadline,
        statutory_deadline=clock.statutory_deadline,
        warning_at=timed.warning_at,
        provisional=timed.provisional,
        provisional_years=timed.provisional_years,
    )


def stopped_event(
    clock: ClockState, at: datetime, reason: str, outcome: str, *, on_time: bool, used: float
) -> ClockStopped:
    return ClockStopped(
        case_no=clock.case_no,
        stopped_at=at,
        promised_deadline=clock.promised_deadline,
        on_time=on_time,
        clock_id=clock.clock_id,
        purpose=clock.purpose,
        step_id=clock.step_id,
        reason=reason,
        outcome=outcome,
        used=used,
    )
