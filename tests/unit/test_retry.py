"""The retry policy: backoff with jitter up to a cap, a report once past the bound, and nothing ever dropped."""

from __future__ import annotations

import pytest

from shared.retry import Backoff, Retries, alert_after_s


class Ticks:
    """A monotonic clock that moves only when the test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_delays_double_from_a_tenth_of_a_second_up_to_ten_seconds_without_jitter() -> None:
    backoff = Backoff(first_s=0.1, cap_s=10.0, factor=2.0, jitter=0.5)
    delays = [backoff.delay(attempt, draw=0.0) for attempt in range(1, 12)]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0, 10.0, 10.0])


def test_jitter_draws_each_delay_in_its_upper_half() -> None:
    backoff = Backoff(first_s=0.1, cap_s=10.0, jitter=0.5)
    assert backoff.delay(8, draw=0.0) == pytest.approx(10.0)
    assert backoff.delay(8, draw=0.999999) == pytest.approx(5.0, abs=1e-4)
    assert backoff.delay(3, draw=0.5) == pytest.approx(0.3)


def test_only_the_first_failure_asks_for_a_traceback_and_the_attempts_count_up() -> None:
    retries: Retries[str] = Retries(clock=Ticks(), draw=lambda: 0.0)
    failures = [retries.failed("t/0@5") for _ in range(4)]
    assert [f.first for f in failures] == [True, False, False, False]
    assert [f.attempt for f in failures] == [1, 2, 3, 4]
    assert [f.delay_s for f in failures] == pytest.approx([0.1, 0.2, 0.4, 0.8])


def test_a_record_failing_longer_than_the_bound_is_reported_once_and_still_retried() -> None:
    ticks = Ticks()
    retries: Retries[str] = Retries(alert_after_s=600.0, clock=ticks, draw=lambda: 0.0)
    reports = []
    delays = []
    for _ in range(200):  # twenty minutes at the 10 s cap
        failure = retries.failed("t/0@5")
        reports.append(failure.report)
        delays.append(failure.delay_s)
        ticks.now += failure.delay_s
    assert reports.count(True) == 1
    first_report = reports.index(True)
    # It fires on the first failure at or past ten minutes, not before.
    assert sum(delays[:first_report]) >= 600.0
    assert sum(delays[: first_report - 1]) < 600.0
    assert max(delays) == pytest.approx(10.0)
    assert "t/0@5" in retries.failing()  # never dropped: it is still being retried


def test_a_report_that_could_not_be_delivered_is_made_again_at_the_next_failure() -> None:
    ticks = Ticks()
    retries: Retries[str] = Retries(alert_after_s=60.0, clock=ticks, draw=lambda: 0.0)
    retries.failed("k")
    ticks.now += 61
    assert retries.failed("k").report
    retries.unreport("k")
    ticks.now += 1
    assert retries.failed("k").report
    assert not retries.failed("k").report


def test_success_forgets_and_tells_how_it_had_failed_so_the_next_failure_starts_over() -> None:
    ticks = Ticks()
    retries: Retries[str] = Retries(alert_after_s=5.0, clock=ticks, draw=lambda: 0.0)
    retries.failed("k")
    ticks.now += 10
    assert retries.failed("k").report
    was = retries.succeeded("k")
    assert was is not None
    assert was.failures == 2
    assert was.reported
    assert retries.succeeded("k") is None
    again = retries.failed("k")
    assert again.first
    assert again.attempt == 1
    assert again.delay_s == pytest.approx(0.1)
    assert not again.report


def test_forget_drops_only_what_the_predicate_selects() -> None:
    retries: Retries[tuple[str, int, int]] = Retries(clock=Ticks())
    for key in [("a", 0, 5), ("a", 0, 9), ("a", 1, 3), ("b", 0, 1)]:
        retries.failed(key)
    retries.forget(lambda key: key[:2] == ("a", 0) and key[2] < 9)
    assert sorted(retries.failing()) == [("a", 0, 9), ("a", 1, 3), ("b", 0, 1)]


def test_the_bound_defaults_to_ten_minutes_and_is_set_by_the_environment() -> None:
    assert alert_after_s({}) == 600.0
    assert alert_after_s({"HALL_RETRY_ALERT_S": "30"}) == 30.0
    with pytest.raises(ValueError, match="HALL_RETRY_ALERT_S"):
        alert_after_s({"HALL_RETRY_ALERT_S": "soon"})
    with pytest.raises(ValueError, match="more than 0"):
        alert_after_s({"HALL_RETRY_ALERT_S": "0"})
