"""A step's SLA colour: its clock's status from :func:`shared.sla.sla_status`, the one rule of the hall.

The workbench reads the step clock's facts (deadline, warning time, pause, stop, the alerts for the current
deadline) from the SLA board's clock projection (``board.clock_key``, read with the page's other facts), so the inbox
and the board say the same of the same step.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.gateway.sla import board
from shared.sla import BADGES, NORMAL, OVERDUE, WARNING, sla_status

__all__ = ["BADGES", "NORMAL", "OVERDUE", "WARNING", "colour", "colour_of"]


def colour(
    deadline: datetime | None,
    paused: bool,
    alerts: list[str],
    now: datetime,
    warning_at: datetime | None = None,
    *,
    paused_at: datetime | None = None,
) -> str:
    """正常 / 预警 / 逾期 of a step clock known only by its workbench facts (alerts: the current deadline's levels).

    Without ``paused_at`` a paused clock's status comes from timing's alerts alone (its pause moment unknown)."""
    found, _ = sla_status(deadline, warning_at, now, paused_at=paused_at, alerts=alerts, paused=paused)
    return found


def colour_of(
    entry: board.Entry | None,
    now: datetime,
    *,
    waiting: bool,
    fallback: Callable[[], str],
    row: board.Row | None = None,
) -> str:
    """The step clock's status from the SLA board's entry of it (the same facts and rule as the board's row of that
    clock, whose status is taken when ``row`` is given); ``fallback`` until timing's ClockStarted reached the board.
    A step waiting for the applicant (退回补正) before timing's pause arrived counts as paused from an unknown moment
    (alerts alone then)."""
    if entry is None:
        return fallback()
    if waiting and entry.paused_at is None and entry.stopped_at is None:
        found, _ = sla_status(
            entry.deadline,
            entry.warning_at,
            now,
            alerts=board.current_alerts(entry),
            outcome=entry.outcome,
            paused=True,
        )
        return found
    return row.status if row is not None else board.status(entry, now)[0]
