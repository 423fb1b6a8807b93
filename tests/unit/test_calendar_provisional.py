"""暂定日历: a year without an official schedule keeps time with weekends and the statutory holidays."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from services.timing import clocks
from services.timing.yearfile import BadYearFile, read_year_file
from shared.calendar import Limit, WorkingCalendar, Years
from shared.halls import HallPolicy, WarningRule, parse_warning
from shared.localtime import LOCAL
from shared.provisional_calendar import days_off, festivals

CAL = WorkingCalendar()


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL)


@pytest.mark.parametrize(
    ("day", "working", "why"),
    [
        ("2027-01-01", False, "元旦, a Friday"),
        ("2027-01-04", True, "the Monday after"),
        ("2027-02-04", True, "the day before 除夕"),
        ("2027-02-05", False, "除夕"),
        ("2027-02-08", False, "正月初三, a Monday"),
        ("2027-02-09", False, "补假 for 初一 on a Saturday"),
        ("2027-02-10", False, "补假 for 初二 on a Sunday"),
        ("2027-02-11", True, "back to work"),
        ("2027-04-05", False, "清明, a Monday"),
        ("2027-05-03", False, "补假 for 5-1 on a Saturday"),
        ("2027-05-04", False, "补假 for 5-2 on a Sunday"),
        ("2027-06-09", False, "端午"),
        ("2027-09-15", False, "中秋, a Wednesday"),
        ("2027-10-04", False, "补假 for 10-2 on a Saturday"),
        ("2027-10-05", False, "补假 for 10-3 on a Sunday"),
        ("2027-10-06", True, "no invented make-up day: a weekday worked"),
        ("2027-02-20", False, "a Saturday: no make-up working day is invented"),
    ],
)
def test_a_table_of_provisional_2027_dates(day: str, working: bool, why: str) -> None:
    assert CAL.is_working_day(date.fromisoformat(day)) is working, why


def test_the_festivals_of_2027_fall_where_the_lunar_calendar_puts_them() -> None:
    named = festivals(2027)
    assert date(2027, 1, 1).weekday() == 4  # a Friday
    assert named["春节"][0] == date(2027, 2, 5)  # 除夕
    assert named["中秋节"] == [date(2027, 9, 15)]
    assert named["清明节"] == [date(2027, 4, 5)]


@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_the_lunar_and_solar_dates_match_the_real_holidays_of_2024_to_2026(year: int) -> None:
    """Each festival's main day is a holiday of that name in the State Council's schedule (chinesecalendar)."""
    named = festivals(year)
    expected = {
        "春节": ("Spring Festival", named["春节"][1]),  # 正月初一
        "清明节": ("Tomb-sweeping Day", named["清明节"][0]),
        "端午节": ("Dragon Boat Festival", named["端午节"][0]),
        "中秋节": ("Mid-autumn Festival", named["中秋节"][0]),
    }
    for festival, (name, day) in expected.items():
        on_holiday, holiday = chinese_calendar.get_holiday_detail(day)
        assert on_holiday, (festival, day)
        assert holiday is not None, (festival, day)
        assert name.lower().split()[0] in str(holiday).lower(), (festival, day, holiday)


@pytest.mark.parametrize("year", [2025, 2026])
def test_since_the_2024_revision_every_provisional_day_off_is_a_real_holiday(year: int) -> None:
    """Under the revised rules (from 2025) the official schedule gives at least the statutory days; the
    provisional calendar's days off are days off in the real one (its 补假 may land elsewhere)."""
    statutory = {day for days in festivals(year).values() for day in days}
    assert all(not chinese_calendar.is_workday(day) for day in statutory), sorted(statutory)


def test_a_provisional_year_never_works_on_a_weekend() -> None:
    day = date(2027, 1, 1)
    while day.year == 2027:
        if day.weekday() >= 5:
            assert not CAL.is_working_day(day), day
        day += timedelta(days=1)
    assert len(days_off(2027)) == 19  # 13 statutory weekdays-or-weekends plus 补假


def test_an_official_year_is_not_provisional_and_a_loaded_one_wins() -> None:
    years = Years()
    assert years.official(2026)
    assert not years.official(2027)
    assert years.provisional_between(date(2026, 12, 1), date(2028, 1, 3)) == [2027, 2028]
    assert years.without(2026).provisional_between(date(2026, 12, 1), date(2026, 12, 2)) == [2026]


# ---------------------------------------------------------------- half days


def test_the_enterprise_bundles_half_day_children_come_out_right() -> None:
    """企业开办: 0.5 WD accepted at 09:00 is due at 14:00 (3.5 of the 7 office hours), not at closing."""
    assert CAL.deadline(local("2026-11-30 09:00"), 0.5, "WD") == local("2026-11-30 14:00")
    assert CAL.deadline(local("2026-11-30 16:00"), 0.5, "WD") == local("2026-12-01 11:00")
    assert CAL.deadline(local("2027-02-04 16:00"), 0.5, "WD") == local("2027-02-11 11:00")  # over 春节


# ---------------------------------------------------------------- 预警 for short limits


def test_the_default_warning_rule_is_the_later_of_one_day_and_a_fifth() -> None:
    rule = parse_warning(["1WD", "20%"])
    assert rule == WarningRule(before=Limit(1, "WD"), share=0.2)
    policy = HallPolicy(code="hall", warning=rule)
    half_day = clocks.start_clock(
        CAL,
        clock_id="k",
        purpose="子件",
        case_id="c",
        case_no="n",
        started_at=local("2026-11-30 09:00"),
        promised=Limit(0.5, "WD"),
    )
    # 3.5 office hours: 预警 when a fifth (42 office minutes, back across lunch) is left, not at birth.
    assert clocks.warning_at(half_day, CAL, policy) == local("2026-11-30 11:48")
    assert clocks.status(half_day, local("2026-11-30 09:01"), CAL, policy) == "正常"
    long = clocks.start_clock(
        CAL,
        clock_id="k2",
        purpose="办件",
        case_id="c",
        case_no="n",
        started_at=local("2026-11-02 09:00"),
        promised=Limit(20, "WD"),
    )
    # 20 WD: one working day before (the fifth, four days, comes earlier).
    assert long.promised_deadline == local("2026-11-30 17:30")
    assert clocks.warning_at(long, CAL, policy) == local("2026-11-30 09:00")


def test_a_warning_rule_is_checked() -> None:
    with pytest.raises(ValueError, match="0% 与 100%"):
        parse_warning(["1WD", "120%"])
    assert parse_warning("无") is None


# ---------------------------------------------------------------- bad year files


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('year = 2027\n[[holidays]]\nname = "元旦"\nfrom = 2026-12-31\nto = 2027-01-01\n', 4, "不在 2027 年"),
        ("year = 2027\nworkdays = [2027-02-08]\n", 2, "不是周末"),
        ("year = 2027\nholiday = []\n", 2, "不认识的项 holiday"),
        ('year = 2027\n[[holidays]]\nname = "春节"\nfrom = 2027-02-10\nto = 2027-02-05\n', 5, "早于开始日"),
    ],
)
def test_a_malformed_year_file_is_refused_with_its_line_and_reason(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = tmp_path / "2027.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BadYearFile) as bad:
        read_year_file(path)
    assert f"第 {line} 行" in str(bad.value)
    assert reason in str(bad.value)


def test_a_year_file_that_is_not_toml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "2027.toml"
    path.write_text("year = 2027\nlabel = \n", encoding="utf-8")
    with pytest.raises(BadYearFile, match="line 2"):
        read_year_file(path)
