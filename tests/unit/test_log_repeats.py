"""A complaint repeated many times a second (a client library during an outage) does not flood the log."""

from __future__ import annotations

import logging

from shared.logs import Repeats


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(msg: str, *args: object, level: int = logging.ERROR, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_the_first_lines_of_a_kind_are_kept_then_counted_and_the_count_is_told_after_the_window() -> None:
    clock = Clock()
    repeats = Repeats(kept=3, window_s=60, monotonic=clock)
    kept = [repeats.filter(record("Unable connect to node with id %s: %s", 1, n)) for n in range(600)]
    assert kept.count(True) == 3
    assert kept[:3] == [True, True, True]
    clock.now = 61
    later = record("Unable connect to node with id %s: %s", 1, "refused")
    assert repeats.filter(later)
    assert "另有 597 条同类日志未记" in later.getMessage()
    assert repeats.filter(record("Unable connect to node with id %s: %s", 1, "refused"))


def test_kinds_are_counted_apart_by_logger_level_and_message() -> None:
    repeats = Repeats(kept=1, window_s=60, monotonic=Clock())
    assert repeats.filter(record("a"))
    assert not repeats.filter(record("a"))
    assert repeats.filter(record("a", level=logging.WARNING))
    assert repeats.filter(record("a", name="hall.kafka"))
    assert repeats.filter(record("b"))


def test_a_quiet_kind_after_the_window_gets_no_count() -> None:
    clock = Clock()
    repeats = Repeats(kept=2, window_s=60, monotonic=clock)
    assert repeats.filter(record("x"))
    clock.now = 100
    again = record("x")
    assert repeats.filter(again)
    assert again.getMessage() == "x"


def test_info_lines_are_never_counted_away() -> None:
    repeats = Repeats(kept=1, window_s=60, monotonic=Clock())
    assert all(repeats.filter(record("GET %s 401 %s", "/api/x", n, level=logging.INFO)) for n in range(50))
