"""The bench's verdict on an open-loop rate, its --rates parsing, and its CPU reading from /proc."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import Counter

import pytest

from tests.bench import rate_list
from tests.bench_cpu import CpuUse, tree_cpu
from tests.bench_open import GOAL_P99_S, Lifecycle, RateResult, highest_sustained


def rate(value: float, totals: list[float], started: int | None = None, failed: int = 0) -> RateResult:
    result = RateResult(rate=value, hold_s=10, started=len(totals) + failed if started is None else started)
    result.done = [Lifecycle(0.05, t, Counter()) for t in totals]
    result.failures = Counter({"POST /api/cases 503": failed}) if failed else Counter()
    return result


def test_a_rate_is_sustained_only_when_every_lifecycle_finished_with_p99_under_the_goal() -> None:
    fast = rate(20, [0.5] * 99 + [1.9])
    assert fast.sustained
    assert fast.verdict() == "yes"
    slow = rate(50, [0.5] * 90 + [GOAL_P99_S + 0.1] * 10)
    assert not slow.sustained
    assert "p99" in slow.verdict()
    # A backlog: lifecycles still unfinished after the hold and the drain are not sustained, however fast the rest.
    backlog = rate(100, [0.5] * 90, started=100)
    assert not backlog.sustained
    assert "10 unfinished or failed" in backlog.verdict()
    failing = rate(30, [0.5] * 99, failed=1)
    assert not failing.sustained
    assert not rate(5, []).sustained
    assert highest_sustained([fast, slow, backlog, failing, rate(10, [0.4] * 10)]) is fast
    assert highest_sustained([slow, backlog]) is None


def test_in_flight_is_the_rate_times_the_mean_lifecycle() -> None:
    assert rate(20, [1.0, 3.0]).in_flight == pytest.approx(40.0)


def test_rates_are_positive_numbers_separated_by_commas() -> None:
    assert rate_list("20,50,100") == [20.0, 50.0, 100.0]
    assert rate_list("0.5, 2") == [0.5, 2.0]
    for bad in ("", "20,x", "0", "-5", "nan", "inf"):
        with pytest.raises(argparse.ArgumentTypeError, match="--rates"):
            rate_list(bad)


def test_cpu_of_a_process_counts_its_descendants() -> None:
    # A shell whose child burns about 0.3 s of CPU, then sleeps a while: the shell itself uses next to none.
    burn = "import time; e = time.process_time() + 0.3\nwhile time.process_time() < e: pass\ntime.sleep(5)"
    shell = subprocess.Popen(["/bin/sh", "-c", f'{sys.executable} -c "{burn}"; true'])
    try:
        deadline = time.monotonic() + 20
        while tree_cpu(shell.pid) < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tree_cpu(shell.pid) >= 0.3
    finally:
        shell.kill()  # the child ends by itself once its sleep is over
        shell.wait()


def test_cpu_per_lifecycle_divides_each_process_by_the_lifecycles_finished() -> None:
    use = CpuUse.between(
        {"gateway": 1.0, "kafka": 2.0, "bench client": 0.0},
        {"gateway": 3.0, "kafka": 2.5, "bench client": 1.0},
        wall_s=10.0,
        units=100,
    )
    assert use.per_unit_ms("gateway") == pytest.approx(20.0)
    assert use.hall_s() == pytest.approx(2.5)  # the bench's own process is not the hall's
    assert any(line.split()[:1] == ["all"] and line.split()[-1] == "25.0" for line in use.table())
