"""A provisional year: the working calendar of a year whose official holiday schedule is not published yet.

The State Council publishes next year's schedule in late autumn, sometimes in December, and the
``chinesecalendar`` package follows weeks later; a hall cannot stop keeping time meanwhile. A provisional year
has the weekends and the statutory holidays of 《全国年节及纪念日放假办法》 as revised in 2024 (Art. 2):

| holiday | days off                         | date from                               |
|---------|----------------------------------|-----------------------------------------|
| 元旦    | 1                                | 1 January                               |
| 春节    | 4: 除夕, 正月初一, 初二, 初三        | the lunar calendar (``lunardate``)      |
| 清明节  | 1                                | the solar term 清明 (``chinesecalendar``) |
| 劳动节  | 2: 1 and 2 May                   | fixed                                   |
| 端午节  | 1: 五月初五                        | the lunar calendar                      |
| 中秋节  | 1: 八月十五                        | the lunar calendar                      |
| 国庆节  | 3: 1 to 3 October                | fixed                                   |

补假 (Art. 6): a day of such a holiday that falls on a Saturday or Sunday is given back on the next weekday
after the holiday that is no holiday itself. No 调休 make-up working days are invented: the State Council
decides them each year and nobody can know them in advance, so a provisional year never works on a weekend.
Every deadline that touches a provisional year is marked 暂定 and revised when the official year arrives.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import chinese_calendar
from chinese_calendar.solar_terms import SolarTerms
from lunardate import LunarDate

LABEL = "暂定：按《全国年节及纪念日放假办法》推算，以国务院公布的放假安排为准"


def _lunar(year: int, month: int, day: int) -> date:
    solar: date = LunarDate(year, month, day).to_solar_date()
    return solar


def festivals(year: int) -> dict[str, list[date]]:
    """The statutory holidays of ``year``, each with its days off (before any 补假)."""
    new_year = _lunar(year, 1, 1)
    qingming = next(
        day
        for day, term in chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 10))
        if term == SolarTerms.pure_brightness.value[1]  # the package names a term by its Chinese name
    )
    return {
        "元旦": [date(year, 1, 1)],
        "春节": [new_year + timedelta(days=n) for n in range(-1, 3)],  # 除夕 is the eve of 正月初一
        "清明节": [qingming],
        "劳动节": [date(year, 5, 1), date(year, 5, 2)],
        "端午节": [_lunar(year, 5, 5)],
        "中秋节": [_lunar(year, 8, 15)],
        "国庆节": [date(year, 10, n) for n in (1, 2, 3)],
    }


@cache
def days_off(year: int) -> frozenset[date]:
    """The weekdays off of a provisional ``year``: its statutory holidays and their 补假 days."""
    named = festivals(year)
    off = {day for days in named.values() for day in days}
    given_back: set[date] = set()
    for days in named.values():
        owed = sum(1 for day in days if day.weekday() >= 5)
        day = max(days)
        while owed:
            day += timedelta(days=1)
            if day.weekday() < 5 and day not in off and day not in given_back:
                given_back.add(day)
                owed -= 1
    return frozenset(off | given_back)
