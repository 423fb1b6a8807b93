"""导入年份: 年份文件的格式与校验, 导入的年份优先于 chinesecalendar, 未知年份拒绝计算并指明年份。"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import chinese_calendar
import msgspec
import pytest

from services.timing.yearfile import BadYearFile, parse_year, read_year_file
from shared.calendar import UnknownYear, WorkingCalendar, YearPlan, Years
from shared.localtime import LOCAL

DATA = Path(__file__).resolve().parents[2] / "data" / "calendar"
PLAN_2026 = read_year_file(DATA / "2026.toml")
EXAMPLE_2027 = read_year_file(DATA / "2027.example.toml")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL)


def test_the_2026_file_says_what_the_state_council_notice_says_every_day() -> None:
    loaded = Years([PLAN_2026])
    day, disagreements = date(2026, 1, 1), []
    while day.year == 2026:
        if loaded.is_working_day(day) != bool(chinese_calendar.is_workday(day)):
            disagreements.append(day)
        day += timedelta(days=1)
    assert disagreements == []
    assert PLAN_2026.workdays == [
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    ]


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-02-14", True),
        ("2026-02-28", True),
        ("2026-05-09", True),
        ("2026-09-20", True),
        ("2026-10-10", True),
        *((f"2026-10-0{n}", False) for n in range(1, 8)),
    ],
)
def test_the_loaded_2026_file_and_the_package_agree_on_the_famous_days(day: str, working: bool) -> None:
    assert Years([PLAN_2026]).is_working_day(date.fromisoformat(day)) is working
    assert Years().is_working_day(date.fromisoformat(day)) is working


def test_2027_is_provisional_until_it_is_loaded_and_strict_refuses_it() -> None:
    package = WorkingCalendar()
    assert not package.years.official(2027)
    assert package.years.source(2027) == "暂定"
    strict = WorkingCalendar(years=Years(strict=True))
    with pytest.raises(UnknownYear, match="2027") as refused:
        strict.deadline(local("2026-12-30 10:00"), 3, "WD")
    assert refused.value.year == 2027
    loaded = WorkingCalendar(years=Years([EXAMPLE_2027], strict=True))
    assert loaded.years.official(2027)
    # 12-31 Thu, [2027] 01-01..03 元旦, 01-04 Mon, 01-05 Tue.
    assert loaded.deadline(local("2026-12-30 10:00"), 3, "WD") == local("2027-01-05 17:30")
    assert loaded.is_working_day(date(2027, 1, 31))  # a Sunday worked (调休, in the example)
    assert not loaded.is_working_day(date(2027, 7, 22))  # a local holiday (in the example)
    with pytest.raises(UnknownYear, match="2028"):
        loaded.deadline(local("2027-12-30 10:00"), 3, "WD")


def test_a_loaded_year_wins_over_the_package() -> None:
    """The county gives 2026-12-01 (a Tuesday) off: with that year loaded, a 1 WD limit skips it."""
    local_day = msgspec.structs.replace(PLAN_2026, local_holidays=[date(2026, 12, 1)], label="2026 年（含旗里放假）")
    package, loaded = WorkingCalendar(), WorkingCalendar(years=Years([local_day]))
    assert package.is_working_day(date(2026, 12, 1))
    assert not loaded.is_working_day(date(2026, 12, 1))
    assert package.deadline(local("2026-11-30 10:00"), 1, "WD") == local("2026-12-01 17:30")
    assert loaded.deadline(local("2026-11-30 10:00"), 1, "WD") == local("2026-12-02 17:30")
    # Other years still come from the package.
    assert loaded.is_working_day(date(2025, 12, 31))


def test_a_year_file_round_trips_through_the_loaded_event_shape() -> None:
    again = msgspec.json.decode(msgspec.json.encode(EXAMPLE_2027), type=YearPlan)
    assert again == EXAMPLE_2027
    assert EXAMPLE_2027.example is True
    assert "示例" in EXAMPLE_2027.label


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        pytest.param({"year": "2027"}, "year 必须是年份", id="year-not-a-number"),
        pytest.param({"year": 2027, "holiday": []}, "不认识的项 holiday", id="unknown-key"),
        pytest.param(
            {
                "year": 2027,
                "holidays": [
                    {"name": "春节", "from": date(2027, 2, 5), "to": date(2027, 2, 13), "workdays": [date(2027, 2, 20)]}
                ],
            },
            "workdays 等顶层项须写在所有",
            id="workdays-under-the-last-table",
        ),
        pytest.param(
            {"year": 2027, "holidays": [{"name": "元旦", "from": date(2026, 12, 31), "to": date(2027, 1, 1)}]},
            "不在 2027 年",
            id="day-of-another-year",
        ),
        pytest.param(
            {"year": 2027, "holidays": [{"name": "元旦", "from": date(2027, 1, 3), "to": date(2027, 1, 1)}]},
            "早于开始日",
            id="range-backwards",
        ),
        pytest.param({"year": 2027, "workdays": [date(2027, 2, 22)]}, "不是周末", id="workday-on-a-monday"),
        pytest.param(
            {
                "year": 2027,
                "workdays": [date(2027, 2, 6)],
                "holidays": [{"name": "春节", "from": date(2027, 2, 5), "to": date(2027, 2, 13)}],
            },
            "既是假日又是调休上班日",
            id="holiday-and-workday",
        ),
    ],
)
def test_a_bad_year_file_is_refused_saying_what_is_wrong(data: dict[str, object], complaint: str) -> None:
    with pytest.raises(BadYearFile, match=complaint):
        parse_year(data)


def test_a_missing_or_broken_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadYearFile, match="找不到"):
        read_year_file(tmp_path / "2030.toml")
    broken = tmp_path / "2030.toml"
    broken.write_text("year = 2030\n[[holidays]\n", encoding="utf-8")
    with pytest.raises(BadYearFile, match="不是有效的 TOML"):
        read_year_file(broken)
