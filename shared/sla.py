"""A clock's SLA status (正常 / 预警 / 逾期, with its escalation level) and its remaining working time: one pure
function each, fed by the clock facts timing publishes, used by timing itself, the workbench, the SLA board and
every page that shows a clock.

The rules, in order:

- a clock that ended without a decision (``outcome``, e.g. 退件) is never overdue;
- time stands still while the clock is paused and after it stopped: the status is the one at that moment;
- past its deadline a clock is 逾期, past its warning moment 预警;
- an alert timing raised for the *current* deadline counts too, even if the caller's clock says otherwise
  (timing may run ahead of this process, e.g. under a test's ManualClock): any level beyond 预警 is 逾期, and
  the last such level past 逾期 (督办, 通报 …) is the escalation. Callers pass only the alerts of the current
  deadline (an extension or a resumption moved it; alerts about the old one no longer count).

A provisional (暂定) deadline gets the same status: 暂定 is shown next to it, never instead of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal, Protocol

Status = Literal["正常", "预警", "逾期"]
NORMAL: Status = "正常"
WARNING: Status = "预警"
OVERDUE: Status = "逾期"
BADGES: dict[str, str] = {NORMAL: "badge-ok", WARNING: "badge-warn", OVERDUE: "badge-late"}


class WorkingTime(Protocol):
    """What :func:`remaining` needs of a working calendar (``shared.calendar.WorkingCalendar``)."""

    @property
    def day_seconds(self) -> float:
        """Office seconds in a working day."""
        ...

    def working_seconds(self, a: datetime, b: datetime) -> float:
        """Office seconds between two instants (0 when ``b`` is not after ``a``)."""
        ...


def stands_at(now: datetime, *, paused_at: datetime | None = None, stopped_at: datetime | None = None) -> datetime:
    """The instant a clock's time stands at: ``now``, or when it was paused or stopped if earlier."""
    return min(m for m in (now, paused_at, stopped_at) if m is not None)


def sla_status(
    deadline: datetime | None,
    warning_at: datetime | None,
    now: datetime,
    *,
    paused_at: datetime | None = None,
    stopped_at: datetime | None = None,
    alerts: Iterable[str] = (),
    outcome: str = "",
    paused: bool = False,
) -> tuple[Status, str]:
    """The status at ``now`` and the escalation level (督办 …, or ``""``).

    ``alerts`` are the levels timing raised for the current deadline, in the order raised. ``paused`` without
    ``paused_at`` (a pause whose start is not known yet) stops the derivation from time altogether: only
    timing's alerts say more than 正常 then. ``deadline`` None: timing has not computed it yet.
    """
    if outcome:
        return NORMAL, ""  # 退件: the clock ended without a decision, never overdue
    current = list(alerts)
    derived: Status = NORMAL
    if not (paused and paused_at is None):
        at = stands_at(now, paused_at=paused_at, stopped_at=stopped_at)
        if deadline is not None and at >= deadline:
            derived = OVERDUE
        elif warning_at is not None and at >= warning_at:
            derived = WARNING
    if any(level != WARNING for level in current):
        derived = OVERDUE
    elif WARNING in current and derived == NORMAL:
        derived = WARNING
    escalation = next((level for level in reversed(current) if level not in (WARNING, OVERDUE)), "")
    return derived, escalation


def remaining(deadline: datetime, at: datetime, calendar: WorkingTime) -> float:
    """Working days from ``at`` to ``deadline`` in the hall's calendar; negative once past it (overdue by)."""
    if at <= deadline:
        return calendar.working_seconds(at, deadline) / calendar.day_seconds
    return -calendar.working_seconds(deadline, at) / calendar.day_seconds


def remaining_text(days: float, status: Status = NORMAL) -> str:
    """``剩余 1.5 个工作日`` / ``已超期 0.5 个工作日`` (one decimal; under 0.05 of a day: ``剩余不足 0.1 个工作日``
    or ``已超期``). An overdue status with time still left on this process's clock (timing said so) is 已超期."""
    if days < 0 or status == OVERDUE:
        span = abs(min(days, 0.0))
        return f"已超期 {span:.1f} 个工作日" if span >= 0.05 else "已超期"
    return f"剩余 {days:.1f} 个工作日" if days >= 0.05 else "剩余不足 0.1 个工作日"
