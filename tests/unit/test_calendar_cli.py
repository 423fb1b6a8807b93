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
        ("2026-09-30T10:00", "0.5", "WD", "hall", "2026-09-30T17:30:00+08:00"),
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


def test_an_unknown_year_is_refused_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deadline", "--from", "2026-12-30T10:00", "--limit", "3", "--unit", "WD"]) == 2
    printed = capsys.readouterr()
    assert "2027" in printed.err
    assert "T" not in printed.out  # no deadline was printed


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
