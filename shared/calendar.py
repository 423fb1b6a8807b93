"""China's working-day calendar and every piece of time-limit arithmetic of the hall; pure, no I/O.

Which days are worked comes from a year an operator loaded (a State Council notice plus local ethnic
holidays), else from ``chinesecalendar`` for the years it knows (2004–2026): these years are official. A year
neither knows is provisional (:mod:`shared.provisional_calendar`: weekends and the statutory holidays); every
deadline that touches one is marked 暂定 and revised when the year becomes official. Only a strict calendar
(``./hall calendar … --strict``) refuses such a year with :class:`UnknownYear`, naming it.

Working time is the office hours of a hall (its morning and afternoon sessions) on working days. All results
are in the hall's local time (Asia/Shanghai, no daylight saving).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Literal

import chinese_calendar
import msgspec

from shared.catalogue import UNITS
from shared.localtime import LOCAL
from shared.provisional_calendar import days_off

Unit = Literal["WD", "WH", "ND", "NH"]
Session = tuple[time, time]
DEFAULT_SESSIONS: tuple[Session, ...] = ((time(9), time(12)), (time(13, 30), time(17, 30)))


class Limit(msgspec.Struct, frozen=True, array_like=True):
    """A time limit: ``value`` of ``unit`` (0.5 WD allowed)."""

    value: float
    unit: Unit

    def __str__(self) -> str:
        return f"{self.value:g} 个{UNITS[self.unit]}"


def parse_limit(text: str) -> Limit:
    """``"1WD"``, ``"0.5 WD"``, ``"4WH"`` → a Limit; anything else raises ValueError naming the text."""
    compact = text.replace(" ", "").upper()
    unit, number = compact[-2:], compact[:-2]
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    if unit not in UNITS or value < 0:
        raise ValueError(f"时限格式应为“数值+单位”（单位 WD/WH/ND/NH），如 1WD：{text!r}")
    return Limit(value, unit)  # type: ignore[arg-type]  # unit checked against UNITS above


class UnknownYear(Exception):
    """Only a strict calendar raises it: the year has no official schedule."""

    def __init__(self, year: int) -> None:
        super().__init__(f"{year} 年的放假安排尚未公布（严格模式）；导入该年日历：./hall calendar load FILE")
        self.year = year


class YearPlan(msgspec.Struct, frozen=True, kw_only=True):
    """One year's working days as an operator loads them: statutory holidays, 调休 make-up working days and
    local holidays. A day is worked if it is a make-up day, or a Monday–Friday that is no holiday."""

    year: int
    label: str = ""
    holidays: list[date] = []
    local_holidays: list[date] = []
    workdays: list[date] = []
    example: bool = False  # a draft to show the format, never the State Council's notice
    source: str = ""  # the file it was loaded from


def in_package(year: int) -> bool:
    """Whether the installed ``chinesecalendar`` has the official schedule of ``year``."""
    return year in _PACKAGE_YEARS


_PACKAGE_YEARS = frozenset(y for y in range(1990, 2200) if y in {d.year for d in chinese_calendar.holidays})


class Years:
    """Which days are worked, year by year: loaded years first, then the package, else a provisional year.

    ``strict`` refuses a provisional year instead; ``provisional`` names years to treat as provisional even
    though they are official now (the calendar as it was before they became official).
    """

    def __init__(self, loaded: Iterable[YearPlan] = (), *, strict: bool = False, provisional: Iterable[int] = ()):
        self.plans: dict[int, YearPlan] = {plan.year: plan for plan in loaded}
        self.strict = strict
        self.forced = frozenset(provisional)
        self._off = {y: frozenset(p.holidays) | frozenset(p.local_holidays) for y, p in self.plans.items()}
        self._on = {y: frozenset(p.workdays) for y, p in self.plans.items()}
        self._days: dict[date, bool] = {}

    def official(self, year: int) -> bool:
        return year not in self.forced and (year in self.plans or in_package(year))

    def source(self, year: int) -> str:
        """Where the year's working days come from, in words."""
        if not self.official(year):
            return "暂定"
        plan = self.plans.get(year)
        if plan is None:
            return "chinesecalendar 包"
        return plan.label + (f"（{plan.source}）" if plan.source else "")

    def provisional_between(self, first: date, last: date) -> list[int]:
        """The provisional years from ``first`` through ``last``."""
        return [y for y in range(first.year, max(first, last).year + 1) if not self.official(y)]

    def without(self, year: int) -> Years:
        """These years with ``year`` provisional again (its arithmetic before it became official)."""
        return Years(self.plans.values(), strict=self.strict, provisional={*self.forced, year})

    def is_working_day(self, day: date) -> bool:
        known = self._days.get(day)
        if known is not None:
            return known
        year = day.year
        if not self.official(year):
            if self.strict:
                raise UnknownYear(year)
            working = day.weekday() < 5 and day not in days_off(year)
        elif year in self.plans:
            working = day in self._on[year] or (day.weekday() < 5 and day not in self._off[year])
        else:
            working = bool(chinese_calendar.is_workday(day))
        self._days[day] = working
        return working


PACKAGE_ONLY = Years()


class WorkingCalendar:
    """A hall's working time: its office ``sessions`` on the working days of ``years``."""

    def __init__(self, sessions: tuple[Session, ...] = DEFAULT_SESSIONS, years: Years = PACKAGE_ONLY) -> None:
        if (
            not sessions
            or any(a >= b for a, b in sessions)
            or any(prev[1] > nxt[0] for prev, nxt in itertools.pairwise(sessions))
        ):
            raise ValueError(f"办公时间无效：{sessions}（各时段须先后有序、不重叠）")
        self.sessions = sessions
        self.years = years
        self.hours_per_day = sum(_hours(a, b) for a, b in sessions)
        self.day_seconds = self.hours_per_day * 3600
        self._counts: dict[int, list[int]] = {}  # year → running count of its working days (years never change)

    # ------------------------------------------------------------------ days

    def is_working_day(self, day: date) -> bool:
        return self.years.is_working_day(day)

    def next_working_day(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def opening(self, day: date) -> datetime:
        return datetime.combine(day, self.sessions[0][0], LOCAL)

    def closing(self, day: date) -> datetime:
        return datetime.combine(day, self.sessions[-1][1], LOCAL)

    def in_working_time(self, moment: datetime) -> bool:
        """On a working day, inside a session or exactly at its end."""
        wall = moment.astimezone(LOCAL)
        return self.is_working_day(wall.date()) and any(a <= wall.time() <= b for a, b in self.sessions)

    # ------------------------------------------------------------------ deadlines

    def deadline(self, start: datetime, value: float, unit: Unit) -> datetime:
        """The moment a limit of ``value`` ``unit`` runs out for a case accepted at ``start``."""
        start = start.astimezone(LOCAL)
        if unit == "NH":
            return start + timedelta(hours=value)
        if unit == "ND":
            # 民法典 §201: a period in days ends with its last day, here at closing time.
            return self.settle_day(start + timedelta(days=value))
        if unit == "WH":
            return self._first_after(start, value * 3600)
        # Whole days count from the next working day and end at closing. A limit under one day is that share
        # of a day's office hours from the moment of acceptance (0.5 WD accepted at 09:00 ends at 14:00 with
        # 09:00-12:00 and 13:30-17:30); the fraction of a longer limit runs on after its whole days, so a
        # longer limit never ends before a shorter one.
        days, fraction = int(value), value - int(value)
        if not fraction:
            return self._whole_days(start, days)
        if not days:
            return self._first_after(start, fraction * self.day_seconds)
        return self._first_after(self._whole_days(start, days), fraction * self.day_seconds)

    def settle_day(self, moment: datetime) -> datetime:
        """The end of a natural-day period: closing time of its day, or of the next working day."""
        moment = moment.astimezone(LOCAL)
        day = moment.date()
        if not self.is_working_day(day) or self.closing(day) < moment:
            day = self.next_working_day(day)
        return self.closing(day)

    def _whole_days(self, start: datetime, days: int) -> datetime:
        """Counted from the next working day; 0 means the same working day (即办件)."""
        day = start.date()
        if days == 0:
            open_today = self.is_working_day(day) and start < self.closing(day)
            return self.closing(day if open_today else self.next_working_day(day))
        for _ in range(days):
            day = self.next_working_day(day)
        return self.closing(day)

    def _first_after(self, start: datetime, seconds: float) -> datetime:
        """The instant ``seconds`` of working time after ``start`` (for 0: the first working instant)."""
        remaining = timedelta(seconds=seconds)
        day = start.date()
        while True:
            if self.is_working_day(day):
                for open_at, close_at in self.sessions:
                    begin = max(start, datetime.combine(day, open_at, LOCAL))
                    end = datetime.combine(day, close_at, LOCAL)
                    if begin >= end:
                        continue
                    if begin + remaining <= end:
                        return begin + remaining
                    remaining -= end - begin
            day += timedelta(days=1)

    # ------------------------------------------------------------------ working time

    def working_seconds(self, a: datetime, b: datetime) -> float:
        """Office time between two instants (0 when ``b`` is not after ``a``): the office time left on ``a``'s day
        and used on ``b``'s, and a whole day's for each working day between (counted per year, not day by day)."""
        a, b = a.astimezone(LOCAL), b.astimezone(LOCAL)
        if b <= a:
            return 0.0
        first, last = a.date(), b.date()
        if first == last:
            return self._office_seconds(first, a, b)
        between = self.working_days(first + timedelta(days=1), last)
        return self._office_seconds(first, a, b) + between * self.day_seconds + self._office_seconds(last, a, b)

    def _office_seconds(self, day: date, a: datetime, b: datetime) -> float:
        """Office time of ``day`` inside [a, b]."""
        if not self.is_working_day(day):
            return 0.0
        total = 0.0
        for open_at, close_at in self.sessions:
            begin = max(a, datetime.combine(day, open_at, LOCAL))
            end = min(b, datetime.combine(day, close_at, LOCAL))
            if end > begin:
                total += (end - begin).total_seconds()
        return total

    def working_days(self, start: date, end: date) -> int:
        """How many working days there are from ``start`` up to, not including, ``end``."""
        count = 0
        while start < end:
            new_year = date(start.year + 1, 1, 1)
            stop = min(end, new_year)
            running, first = self._running_count(start.year), date(start.year, 1, 1)
            count += running[(stop - first).days] - running[(start - first).days]
            start = stop
        return count

    def _running_count(self, year: int) -> list[int]:
        """``[n]``: the working days among the year's first n days (built once per year and calendar)."""
        running = self._counts.get(year)
        if running is None:
            running, day = [0], date(year, 1, 1)
            while day.year == year:
                running.append(running[-1] + self.is_working_day(day))
                day += timedelta(days=1)
            self._counts[year] = running
        return running

    def add_working(self, start: datetime, seconds: float) -> datetime:
        """``seconds`` of office time after ``start``; 0 leaves ``start`` as it is."""
        start = start.astimezone(LOCAL)
        return start if seconds <= 0 else self._first_after(start, seconds)

    def subtract_working(self, end: datetime, seconds: float) -> datetime:
        """The latest instant with exactly ``seconds`` of office time between it and ``end``."""
        end = end.astimezone(LOCAL)
        if seconds <= 0:
            return end
        remaining = timedelta(seconds=seconds)
        day = end.date()
        while True:
            if self.is_working_day(day):
                for open_at, close_at in reversed(self.sessions):
                    begin = datetime.combine(day, open_at, LOCAL)
                    stop = min(end, datetime.combine(day, close_at, LOCAL))
                    if stop <= begin:
                        continue
                    if stop - remaining >= begin:
                        return stop - remaining
                    remaining -= stop - begin
            day -= timedelta(days=1)

    def elapsed(self, start: datetime, end: datetime, unit: Unit) -> float:
        """How much of a limit in ``unit`` has run between ``start`` (受理) and ``end``.

        Working hours run from ``start``; working days from the opening of the next working day, so that
        ``elapsed(s, deadline(s, n, "WD"), "WD") == n`` for whole days. Natural units count plain time.
        """
        if unit == "NH":
            return max(0.0, (end - start).total_seconds() / 3600)
        if unit == "ND":
            return max(0.0, (end - start).total_seconds() / 86400)
        if unit == "WH":
            return self.working_seconds(start, end) / 3600
        counted_from = self.opening(self.next_working_day(start.astimezone(LOCAL).date()))
        return self.working_seconds(counted_from, end) / self.day_seconds

    def shift(self, moment: datetime, seconds: float, unit: Unit) -> datetime:
        """A deadline moved later by a pause of ``seconds`` of the limit's own kind of time.

        Working limits move by the paused office time; natural-hour limits by the paused time; natural-day
        limits likewise, then end at closing time of a working day like any natural-day period.
        """
        if seconds <= 0:
            return moment.astimezone(LOCAL)
        if unit in ("WD", "WH"):
            return self.add_working(moment, seconds)
        moved = moment.astimezone(LOCAL) + timedelta(seconds=seconds)
        return moved if unit == "NH" else self.settle_day(moved)

    def measure(self, a: datetime, b: datetime, unit: Unit) -> float:
        """Seconds between two instants in the limit's own kind of time (office time or plain time)."""
        if unit in ("WD", "WH"):
            return self.working_seconds(a, b)
        return max(0.0, (b - a).total_seconds())


def _hours(a: time, b: time) -> float:
    return (datetime.combine(date.min, b) - datetime.combine(date.min, a)).total_seconds() / 3600


def parse_sessions(texts: Iterable[str]) -> tuple[Session, ...]:
    """``["09:00-12:00", "13:30-17:30"]`` → office sessions; a bad one raises ValueError naming it."""
    sessions: list[Session] = []
    for text in texts:
        try:
            a, b = (time.fromisoformat(part.strip()) for part in text.split("-"))
        except ValueError:
            raise ValueError(f"办公时段格式应为 HH:MM-HH:MM：{text!r}") from None
        sessions.append((a, b))
    return tuple(sessions)
