"""China's working-day calendar (with 调休 make-up days) and deadline arithmetic; pure, no I/O.

It refuses to compute in a year it does not know, naming the year, and never guesses.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import chinese_calendar

LOCAL = ZoneInfo("Asia/Shanghai")
Unit = Literal["WD", "WH", "ND", "NH"]


class UnknownYear(Exception):
    def __init__(self, year: int) -> None:
        super().__init__(f"工作日历缺少 {year} 年的节假日安排，无法计算时限；请先导入该年日历")
        self.year = year


class WorkingCalendar:
    """Working days from ``chinesecalendar``; office hours as (start, end) sessions of a day."""

    def __init__(self, sessions: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(13, 30), time(17, 30)))):
        self.sessions = sessions
        self.hours_per_day = sum(_hours(a, b) for a, b in sessions)

    def is_working_day(self, day: date) -> bool:
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            raise UnknownYear(day.year) from None

    def next_working_day(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def closing(self, day: date) -> datetime:
        return datetime.combine(day, self.sessions[-1][1], LOCAL)

    def deadline(self, start: datetime, value: float, unit: Unit) -> datetime:
        """The moment a limit of ``value`` ``unit`` runs out for a case accepted at ``start``."""
        start = start.astimezone(LOCAL)
        if unit == "NH":
            return start + timedelta(hours=value)
        if unit == "ND":
            # 民法典 §201: a period in days ends with its last day, here at closing time.
            end = start + timedelta(days=value)
            day = end.date()
            if not self.is_working_day(day) or self.closing(day) < end:
                day = self.next_working_day(day)
            return self.closing(day)
        if unit == "WH":
            return self._add_working_hours(start, value)
        # Whole days count from the next working day and end at closing; a fraction of a day is that share of
        # a day's office hours from the moment of acceptance. The later of the two keeps a longer limit from
        # ever ending before a shorter one (0.5 WD accepted at 09:00 ends at closing, like 0 WD).
        whole = self._whole_days(start, int(value))
        if value == int(value):
            return whole
        return max(whole, self._add_working_hours(start, value * self.hours_per_day))

    def _whole_days(self, start: datetime, days: int) -> datetime:
        """Counted from the next working day; 0 means the same working day (即办件)."""
        day = start.date()
        if days == 0:
            open_today = self.is_working_day(day) and start < self.closing(day)
            return self.closing(day if open_today else self.next_working_day(day))
        for _ in range(days):
            day = self.next_working_day(day)
        return self.closing(day)

    def _add_working_hours(self, start: datetime, hours: float) -> datetime:
        remaining = timedelta(hours=hours)
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


def _hours(a: time, b: time) -> float:
    return (datetime.combine(date.min, b) - datetime.combine(date.min, a)).total_seconds() / 3600
