"""A step's SLA colour: derived on every read from its clock's deadline, its pause and timing's alerts."""

from __future__ import annotations

from datetime import datetime

WARNING, NORMAL, OVERDUE = "预警", "正常", "逾期"
BADGES = {NORMAL: "badge-ok", WARNING: "badge-warn", OVERDUE: "badge-late"}


def colour(
    deadline: datetime | None, paused: bool, alerts: list[str], now: datetime, warning_at: datetime | None = None
) -> str:
    """正常 / 预警 / 逾期: any alert past 预警, or a running clock past its deadline, is 逾期; a running clock past
    timing's warning time (where known), or with timing's 预警 alert, is 预警."""
    if any(level != WARNING for level in alerts):
        return OVERDUE
    if deadline is not None and not paused and now >= deadline:
        return OVERDUE
    if WARNING in alerts:
        return WARNING
    if warning_at is not None and not paused and now >= warning_at:
        return WARNING
    return NORMAL
