"""The hall's local time (奈曼旗, China Standard Time): how every deadline and record is shown to people."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Shanghai")


def local(moment: datetime) -> str:
    """A moment as people in the hall read it: ``2026-10-08 17:30``."""
    return f"{moment.astimezone(LOCAL):%Y-%m-%d %H:%M}"


def when(moment: datetime | None, missing: str = "") -> str:
    """:func:`local`, or ``missing`` when there is no moment (yet)."""
    return local(moment) if moment else missing
