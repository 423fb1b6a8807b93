"""A step's SLA colour: its clock's status from :func:`shared.sla.sla_status`, the one rule of the hall.

The workbench reads the step clock's facts (deadline, warning time, pause, stop, the alerts for the current
deadline) from the SLA board's clock projection (:func:`services.gateway.sla.board.clock_facts`), so the inbox
and the board say the same of the same step.
"""

from __future__ import annotations

from datetime import datetime

from shared.sla import BADGES, NORMAL, OVERDUE, WARNING, sla_status

__all__ = ["BADGES", "NORMAL", "OVERDUE", "WARNING", "colour"]


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
