"""暂定: how every page of the gateway says that a deadline rests on a year without an official holiday schedule.

Timing computes such a deadline with a provisional calendar (weekends and the statutory holidays) and marks it
``provisional`` with the years it depends on; once the State Council's schedule of that year is loaded it sends
``DeadlineRevised`` with the old and the new times. These helpers give the words for both, in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from shared.localtime import local

PROVISIONAL = "暂定"
# What the applicant is told next to a provisional deadline (the receipt, the notices, the kiosk).
PROVISIONAL_NOTE = "暂定，以国务院公布的放假安排为准"
PENDING = "计算中"  # a deadline timing has not computed yet (never the operator's reason)


def years_text(years: Iterable[int]) -> str:
    """``2027 年`` or ``2027、2028 年``."""
    found = sorted(set(years))
    return f"{'、'.join(str(y) for y in found)} 年" if found else ""


def deadline_text(moment: datetime | None, provisional: bool = False, missing: str = PENDING) -> str:
    """``2027-01-04 17:30（暂定，以国务院公布的放假安排为准）``, the plain time, or ``missing``."""
    if moment is None:
        return missing
    return f"{local(moment)}（{PROVISIONAL_NOTE}）" if provisional else local(moment)


def short_text(moment: datetime | None, provisional: bool = False, missing: str = PENDING) -> str:
    """For tables of staff: ``2027-01-04 17:30（暂定）``."""
    if moment is None:
        return missing
    return f"{local(moment)}（{PROVISIONAL}）" if provisional else local(moment)


def banner(years: Iterable[int]) -> str:
    """The SLA board's notice: ``2027 年的放假安排尚未公布，相关期限为暂定``; empty when no year is provisional."""
    named = years_text(years)
    return f"{named}的放假安排尚未公布，相关期限为暂定" if named else ""


def revision_text(
    old: datetime, new: datetime, year: int, *, provisional: bool = False, retracted: Iterable[str] = ()
) -> str:
    """A line of a timeline or audit trail for a revised deadline.

    ``期限更正：2027-01-04 17:30 → 2027-01-06 17:30（2027 年放假安排已公布，按正式安排重新计算）``.
    """
    because = f"{year} 年放假安排已公布，按正式安排重新计算"
    if provisional:
        because += "，仍为暂定"  # another year it touches has no official schedule yet
    withdrawn = list(retracted)
    if withdrawn:
        because += f"；已撤回{'、'.join(withdrawn)}"
    if old == new:
        return f"期限确认：{local(new)} 不变（{because}）"
    return f"期限更正：{local(old)} → {local(new)}（{because}）"


def status_correction(before: str, after: str) -> str:
    """The SLA board's note when a revision changed a clock's status: ``原 预警，按正式放假安排更正为 正常``."""
    return f"原 {before}，按正式放假安排更正为 {after}" if before != after else ""
