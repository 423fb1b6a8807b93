"""The hall's working calendar as the gateway reckons remaining time with it: the arithmetic timing uses
(``shared.calendar``, pure, no I/O) over the years operators loaded (``CalendarLoaded``, kept by the SLA
board's projection) and each hall's office hours (``data/halls.toml``, read once, as timing reads it).

One calendar object per set of loaded years and hall, rebuilt only when a year is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import msgspec

from shared.calendar import DEFAULT_SESSIONS, Session, WorkingCalendar, YearPlan, Years
from shared.halls import Halls, load_halls

_plan = msgspec.json.Decoder(YearPlan)


class HallCalendars:
    """``calendar(plans, hall)``: the working calendar of ``hall`` with the loaded ``plans`` (year → JSON)."""

    def __init__(self, halls: Halls | None = None) -> None:
        self._halls = halls
        self._loaded: Mapping[bytes, bytes] | None = None
        self._years = Years()
        self._by_hall: dict[str, WorkingCalendar] = {}

    def _sessions(self, hall: str) -> tuple[Session, ...]:
        if self._halls is None:
            try:
                self._halls = load_halls()
            except (OSError, ValueError):  # timing refuses such a file; the board then reckons with the defaults
                return DEFAULT_SESSIONS
        return self._halls.policy(hall or "default").sessions

    def calendar(self, plans: Mapping[bytes, bytes], hall: str = "") -> WorkingCalendar:
        if plans != self._loaded:
            self._loaded = dict(plans)
            self._years = Years(_plan.decode(raw) for raw in plans.values())
            self._by_hall = {}
        found = self._by_hall.get(hall)
        if found is None:
            found = self._by_hall[hall] = WorkingCalendar(self._sessions(hall), self._years)
        return found

    def of(self, plans: Mapping[bytes, bytes]) -> Callable[[str], WorkingCalendar]:
        """Each hall's calendar with the loaded ``plans`` (the board's calendar hash, as read)."""
        return lambda hall: self.calendar(plans, hall)
