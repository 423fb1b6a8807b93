"""The short form of ``./hall bench reads`` (tests/bench_reads.py) in the suite: 300 and then 600 cases loaded
through the hall's events into a private Kafka and Redis, the gateway rebuilt and run as a process, and every read
the bench drives answers 2xx, with its p50/p99 printed. No timing is asserted: speed goals belong to the bench.

It drives 10 requests/s rather than the bench's 200, and waits up to 60 s for an answer rather than 10: the suite
shares two cores with everything else, and what it proves is that the bench runs and every route answers, not how
fast."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.bench_reads import QUICK_COST_REQUESTS, QUICK_SECONDS, QUICK_SIZES, ROUTES, run

pytestmark = pytest.mark.integration

REQUIRED = {r.name for r in ROUTES}


async def test_bench_reads_quick_form_answers_every_route_at_both_sizes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "bench-reads"
    try:
        sizes = await run(QUICK_SIZES, QUICK_SECONDS, 10.0, home, timeout_s=60, cost_requests=QUICK_COST_REQUESTS)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    printed = capsys.readouterr().out
    with capsys.disabled():
        sys.stdout.write("\n" + printed[printed.index("| route |") :])  # the table, in the suite's output

    assert [s.cases >= wanted for s, wanted in zip(sizes, QUICK_SIZES, strict=True)] == [True, True]
    for size in sizes:
        assert {r.name for r in size.routes} >= REQUIRED, f"{size.cases} cases: a read was not driven"
        for route in size.routes:
            assert route.answered > 0, f"{size.cases} cases, {route.name}: nothing answered"
            assert not route.errors, f"{size.cases} cases, {route.name} ({route.path}): non-2xx {route.errors}"
        assert size.memory_per_case > 0
    for size in sizes:
        assert f"{size.cases:,} cases p50 / p99" in printed
    for name in REQUIRED:
        assert f"| {name} (" in printed
