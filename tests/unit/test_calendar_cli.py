"""``./hall calendar``: the deadline as the last line in ISO 8601 local time, refusals naming the year."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.timing.cli import main

EXAMPLE_2027 = Path(__file__).resolve().parents[2] / "data" / "calendar" / "2027.example.toml"


@pytest.fixture(autouse=True)
def no_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the package's years: Redis (where loaded years live) is out of reach here."""
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("HALL_NAMESPACE", "calendar-cli-test")


@pytest.mark.parametrize(
    ("start", "limit", "unit", "hall", "expected"),
    [
        ("2026-09-30T10:00", "1", "WD", "hall", "2026-10-08T17:30:00+08:00"),
        ("2026-09-30T10:00", "0.5", "WD", "hall", "2026-09-30T15:00:00+08:00"),
        ("2026-09-30T16:00", "2", "WH", "hall", "2026-10-08T09:30:00+08:00"),
        ("2026-09-30T10:00", "1", "WD", "town-dqtl", "2026-10-08T17:30:00+08:00"),
        ("2026-09-30T10:00", "1", "WD", "village-bytl", "2026-10-08T17:00:00+08:00"),
        ("2026-09-30T10:00+08:00", "24", "NH", "hall", "2026-10-01T10:00:00+08:00"),
    ],
)
def test_the_last_line_is_the_deadline(
    capsys: pytest.CaptureFixture[str], *, start: str, limit: str, unit: str, hall: str, expected: str
) -> None:
    assert main(["deadline", "--from", start, "--limit", limit, "--unit", unit, "--hall", hall]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == expected


def test_a_provisional_year_is_computed_and_says_so_before_the_last_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deadline", "--from", "2026-12-30T10:00", "--limit", "3", "--unit", "WD"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "2027-01-05T17:30:00+08:00"  # 12-31, then 2027-01-01 (元旦) off, 01-04, 01-05
    assert "暂定" in lines[-2]
    assert "2027" in lines[-2]


def test_strict_refuses_a_provisional_year_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deadline", "--from", "2026-12-30T10:00", "--limit", "3", "--unit", "WD", "--strict"]) == 2
    printed = capsys.readouterr()
    assert "2027" in printed.err
    assert "T" not in printed.out  # no deadline was printed


def test_an_official_year_prints_no_provisional_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deadline", "--from", "2026-09-30T10:00", "--limit", "1", "--unit", "WD", "--strict"]) == 0
    assert "暂定" not in capsys.readouterr().out


def test_elapsed_over_a_provisional_year_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["elapsed", "--from", "2026-12-31T09:00", "--to", "2027-01-04T17:30"]) == 0
    out = capsys.readouterr().out
    assert "暂定" in out
    assert "工作时间 14 小时" in out  # 12-31 and 01-04; 2027-01-01 is 元旦
    assert main(["elapsed", "--from", "2026-12-31T09:00", "--to", "2027-01-04T17:30", "--strict"]) == 2


def test_elapsed_working_time_between_two_instants(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["elapsed", "--from", "2026-09-30T10:00", "--to", "2026-10-09T10:00"]) == 0
    assert "工作时间 14 小时，合 2.00 个工作日" in capsys.readouterr().out


def test_an_example_file_is_not_loaded_without_saying_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", str(EXAMPLE_2027)]) == 2
    assert "示例草案" in capsys.readouterr().err


def test_bad_input_is_refused_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deadline", "--from", "昨天", "--limit", "1", "--unit", "WD"]) == 2
    assert "ISO 8601" in capsys.readouterr().err
    assert main(["load", "/nonexistent/2030.toml"]) == 2
    assert "找不到日历文件" in capsys.readouterr().err
