"""The hall's sense of "now", injectable so tests can move time instead of sleeping for hours.

Every process of the hall reads the time through a :class:`Clock`. The system clock can be moved by a fixed
offset, ``HALL_CLOCK_OFFSET_S`` seconds (``./hall test --today YYYY-MM-DD`` sets it for every process it
starts), so the whole hall and its tests can run "as of" another date; nothing else reads the real date.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Protocol

OFFSET_VARIABLE = "HALL_CLOCK_OFFSET_S"


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


def configured_offset() -> timedelta:
    """The offset the environment asks for (``HALL_CLOCK_OFFSET_S``, seconds; 0 when unset)."""
    text = os.environ.get(OFFSET_VARIABLE) or "0"
    try:
        return timedelta(seconds=float(text))
    except ValueError:
        raise ValueError(f"{OFFSET_VARIABLE} must be a number of seconds, not {text!r}") from None


class SystemClock:
    """The real time, moved by ``offset`` (by default the configured one)."""

    def __init__(self, offset: timedelta | None = None) -> None:
        self.offset = configured_offset() if offset is None else offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


class ManualClock:
    """A clock that only moves when a test moves it."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = instant

    def advance(self, by: timedelta) -> None:
        self._now += by


SYSTEM_CLOCK = SystemClock()
"""The process's system clock: what ``now`` means wherever no other clock is injected."""
