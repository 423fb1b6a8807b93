"""One clock — a case's (办件), a bundle child's (子件), a step's (环节) or a requested deadline (补齐, 评价期,
整改 …) — with its promised and statutory limits, its pause ledger, its extensions and the alerts it raised.

Pure functions over the clock and the calendar of its hall. Deadlines move by the office time of the union of
its closed pauses and by its extensions; its status (正常 / 预警 / 逾期) is derived from the deadline and an
instant, never stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Literal

import msgspec

from shared.calendar import Limit, Unit, WorkingCalendar
from shared.halls import OVERDUE, WARNING, HallPolicy
from shared.localtime import LOCAL
from shared.sla import sla_status

CASE, CHILD, STEP = "办件", "子件", "环节"
PAUSABLE = frozenset({CASE, CHILD, STEP})
Status = Literal["正常", "预警", "逾期"]


class Pause(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, array_like=True):
    """An entry of the pause ledger: 特别程序, 退回补正 or 容缺中止, from ``start`` to ``end``."""

    pause_id: str
    reason: str
    start: datetime
    end: datetime | None = None
    cause: str = ""  # the event that started it; a redelivered event finds it and changes nothing
    end_cause: str = ""


class Extension(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, array_like=True):
    """延长: the deadline runs on by ``limit`` (approved); not a pause."""

    limit: Limit
    at: datetime
    cause: str = ""


class ClockState(msgspec.Struct, kw_only=True, omit_defaults=True, array_like=True):
    """Kept in Redis as a msgpack array (a million clocks fit in little memory): add new fields at the end."""

    clock_id: str
    purpose: str
    case_id: str
    case_no: str
    step_id: str = ""
    parent: str = ""  # a step's child clock (一件事), when it belongs to one
    department: str = ""
    item_code: str = ""
    item_name: str = ""
    owner: str = ""
    owner_name: str = ""
    hall: str = ""
    started_at: datetime
    promised: Limit
    statutory: Limit | None = None
    not_after: datetime | None = None  # a cap: e.g. 补齐 never later than the case's promised deadline
    base_promised: datetime
    base_statutory: datetime | None = None
    promised_deadline: datetime
    statutory_deadline: datetime | None = None
    pauses: list[Pause] = []
    extensions: list[Extension] = []
    alerted: list[str] = []
    stopped_at: datetime | None = None
    revision: int = 0  # how often an official calendar revised it: its alerts after a revision are new ones

    @property
    def paused(self) -> bool:
        return any(p.end is None for p in self.pauses)

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    def saw(self, event_id: str) -> bool:
        """Whether this clock already reacted to the event (idempotent after a rebuild of Redis)."""
        return any(event_id in (p.cause, p.end_cause) for p in self.pauses) or any(
            e.cause == event_id for e in self.extensions
        )


def start_clock(
    cal: WorkingCalendar,
    *,
    clock_id: str,
    purpose: str,
    case_id: str,
    case_no: str,
    started_at: datetime,
    promised: Limit,
    statutory: Limit | None = None,
    not_after: datetime | None = None,
    step_id: str = "",
    parent: str = "",
    department: str = "",
    item_code: str = "",
    item_name: str = "",
    owner: str = "",
    owner_name: str = "",
    hall: str = "",
) -> ClockState:
    """A new clock (computed with a provisional calendar for a year without an official schedule)."""
    started_at = started_at.astimezone(LOCAL).replace(microsecond=0)  # limits count in whole seconds
    promised, statutory = _whole(promised), statutory and _whole(statutory)
    base = _capped(cal.deadline(started_at, promised.value, promised.unit), not_after)
    statutory_deadline = None if statutory is None else cal.deadline(started_at, statutory.value, statutory.unit)
    return ClockState(
        clock_id=clock_id,
        purpose=purpose,
        case_id=case_id,
        case_no=case_no,
        started_at=started_at,
        promised=promised,
        statutory=statutory,
        not_after=not_after,
        base_promised=base,
        base_statutory=statutory_deadline,
        promised_deadline=base,
        statutory_deadline=statutory_deadline,
        step_id=step_id,
        parent=parent,
        department=department,
        item_code=item_code,
        item_name=item_name,
        owner=owner,
        owner_name=owner_name,
        hall=hall,
    )


def _whole(limit: Limit) -> Limit:
    """A whole number is kept as an int: it takes a byte instead of nine in a stored clock."""
    return Limit(int(limit.value), limit.unit) if limit.value == int(limit.value) else limit


def _capped(deadline: datetime, not_after: datetime | None) -> datetime:
    return deadline if not_after is None else min(deadline, not_after.astimezone(LOCAL))


def paused_seconds(clock: ClockState, cal: WorkingCalendar, unit: Unit, until: datetime | None = None) -> float:
    """The limit-kind time covered by the union of the pauses (open ones counted up to ``until``)."""
    spans: list[tuple[datetime, datetime]] = []
    for pause in clock.pauses:
        end = pause.end or until
        if end is not None and end > pause.start:
            spans.append((max(pause.start, clock.started_at), end))
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return sum(cal.measure(a, b, unit) for a, b in merged)


def deadlines(clock: ClockState, cal: WorkingCalendar) -> tuple[datetime, datetime | None]:
    """The promised and statutory deadlines from the base ones, the extensions (in order), the closed pauses."""
    promised = clock.base_promised
    for ext in clock.extensions:
        promised = cal.deadline(promised, ext.limit.value, ext.limit.unit)
    promised = cal.shift(promised, paused_seconds(clock, cal, clock.promised.unit), clock.promised.unit)
    statutory = None
    if clock.base_statutory is not None and clock.statutory is not None:
        statutory = clock.base_statutory
        for ext in clock.extensions:
            statutory = cal.deadline(statutory, ext.limit.value, ext.limit.unit)
        unit = clock.statutory.unit
        statutory = cal.shift(statutory, paused_seconds(clock, cal, unit), unit)
    return _capped(promised, clock.not_after), statutory


def recompute(clock: ClockState, cal: WorkingCalendar) -> None:
    """Every deadline of the clock again from its start, limits, pauses and extensions (a calendar changed)."""
    clock.base_promised = _capped(
        cal.deadline(clock.started_at, clock.promised.value, clock.promised.unit), clock.not_after
    )
    if clock.statutory is not None:
        clock.base_statutory = cal.deadline(clock.started_at, clock.statutory.value, clock.statutory.unit)
    clock.promised_deadline, clock.statutory_deadline = deadlines(clock, cal)


def _apply(clock: ClockState, cal: WorkingCalendar, **changes: list[Pause] | list[Extension]) -> None:
    """Makes ``changes`` and moves the deadlines."""
    trial = msgspec.structs.replace(clock, **changes)
    promised, statutory = deadlines(trial, cal)
    for name, value in changes.items():
        setattr(clock, name, value)
    clock.promised_deadline, clock.statutory_deadline = promised, statutory


def pause(clock: ClockState, entry: Pause) -> bool:
    """Opens a pause; False when the clock is stopped or this pause is already open."""
    if not clock.running or any(p.pause_id == entry.pause_id and p.end is None for p in clock.pauses):
        return False
    clock.pauses.append(entry)
    return True


def _closed(clock: ClockState, at: datetime, cause: str, pause_id: str | None) -> list[Pause]:
    return [
        msgspec.structs.replace(p, end=max(at, p.start), end_cause=cause)
        if p.end is None and pause_id in (None, p.pause_id)
        else p
        for p in clock.pauses
    ]


def resume(clock: ClockState, pause_id: str, at: datetime, cause: str, cal: WorkingCalendar) -> bool:
    """Closes the open pause ``pause_id`` at ``at`` and moves the deadlines; False if none was open."""
    if not any(p.pause_id == pause_id and p.end is None for p in clock.pauses):
        return False
    _apply(clock, cal, pauses=_closed(clock, at, cause, pause_id))
    return True


def extend(clock: ClockState, limit: Limit, at: datetime, cause: str, cal: WorkingCalendar) -> None:
    _apply(clock, cal, extensions=[*clock.extensions, Extension(limit=limit, at=at, cause=cause)])


def stop(clock: ClockState, at: datetime, cause: str, cal: WorkingCalendar) -> None:
    """Stops the clock at ``at``; pauses still open end there."""
    if clock.paused:
        _apply(clock, cal, pauses=_closed(clock, at, cause, None))
    clock.stopped_at = at


def used(clock: ClockState, cal: WorkingCalendar) -> float:
    """How much of its limit a stopped clock used, in the limit's unit, its pauses not counted (工程建设's budget)."""
    unit = clock.promised.unit
    end = clock.stopped_at or clock.started_at
    per_unit = {"WD": cal.day_seconds, "WH": 3600.0, "ND": 86400.0, "NH": 3600.0}[unit]
    spent = cal.elapsed(clock.started_at, end, unit) - paused_seconds(clock, cal, unit, end) / per_unit
    return round(max(0.0, spent), 3)


def on_time(clock: ClockState) -> bool:
    return clock.stopped_at is not None and clock.stopped_at <= clock.promised_deadline


def warning_at(clock: ClockState, cal: WorkingCalendar, policy: HallPolicy) -> datetime | None:
    """When 预警 is due: a span before the deadline, or when a share of the limit is left, or the later of the
    two when the rule has both; never before the clock started."""
    rule = policy.warning
    if rule is None:
        return None
    deadline, unit = clock.promised_deadline, clock.promised.unit
    moments: list[datetime] = []
    if rule.share is not None:
        length = cal.measure(clock.started_at, deadline, unit) - paused_seconds(clock, cal, unit)
        left = rule.share * max(length, 0.0)
        working = unit in ("WD", "WH")
        moments.append(cal.subtract_working(deadline, left) if working else deadline - timedelta(seconds=left))
    if rule.before is not None:
        before = rule.before
        if before.unit == "WD":
            moments.append(cal.subtract_working(deadline, before.value * cal.day_seconds))
        elif before.unit == "WH":
            moments.append(cal.subtract_working(deadline, before.value * 3600))
        else:
            moments.append(deadline - timedelta(hours=before.value * (24 if before.unit == "ND" else 1)))
    return max(*moments, clock.started_at)


def alert_times(clock: ClockState, cal: WorkingCalendar, policy: HallPolicy) -> Iterator[tuple[str, datetime]]:
    """Every alert level with the moment it is due, in order, computed one at a time."""
    if policy.warning is not None:
        warning = warning_at(clock, cal, policy)
        yield WARNING, clock.promised_deadline if warning is None else min(warning, clock.promised_deadline)
    yield OVERDUE, clock.promised_deadline
    for step in policy.escalation:
        yield step.level, cal.deadline(clock.promised_deadline, step.after.value, step.after.unit)


def provisional_years(clock: ClockState, cal: WorkingCalendar) -> list[int]:
    """The provisional years the promised deadline (and so its warning time) depends on: 暂定."""
    return cal.years.provisional_between(clock.started_at.date(), clock.promised_deadline.date())


def touched_years(clock: ClockState, cal: WorkingCalendar, policy: HallPolicy) -> list[int]:
    """Every provisional year any of the clock's times depends on: its deadlines and its alert levels."""
    last = max(
        [clock.promised_deadline, *(at for _, at in alert_times(clock, cal, policy))]
        + ([clock.statutory_deadline] if clock.statutory_deadline is not None else [])
    )
    return cal.years.provisional_between(clock.started_at.date(), last.date())


def next_alert(clock: ClockState, cal: WorkingCalendar, policy: HallPolicy) -> tuple[str, datetime] | None:
    """The first level not raised yet (and computable) and when it is due; None for a stopped or paused clock,
    or when every level is raised."""
    if not clock.running or clock.paused:
        return None
    for level, at in alert_times(clock, cal, policy):
        if level not in clock.alerted:
            return level, at
    return None


def live_deadline(clock: ClockState, now: datetime, cal: WorkingCalendar) -> datetime:
    """While a pause is open the deadline moves on with it; otherwise it is the stored one."""
    if not clock.paused:
        return clock.promised_deadline
    unit = clock.promised.unit
    extra = paused_seconds(clock, cal, unit, until=now) - paused_seconds(clock, cal, unit)
    return cal.shift(clock.promised_deadline, extra, unit)


def status(clock: ClockState, now: datetime, cal: WorkingCalendar, policy: HallPolicy) -> Status:
    """正常 / 预警 / 逾期 at ``now`` (time stands still while the clock is paused or after it stopped)."""
    open_pauses = [p.start for p in clock.pauses if p.end is None]
    found, _ = sla_status(
        clock.promised_deadline,
        warning_at(clock, cal, policy),
        now,
        paused_at=min(open_pauses) if open_pauses else None,
        stopped_at=clock.stopped_at,
    )
    return found
