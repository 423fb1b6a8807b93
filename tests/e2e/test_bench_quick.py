"""The short form of ``./hall bench`` (tests/bench.py, tests/bench_open.py, tests/bench_cpu.py) in the suite.

Against the hall's processes the e2e tests start (the session's, shared): lifecycles at 2 a second for 3 s (open
loop), then 3 lifecycles 3 at a time (closed loop), and a small bare pipeline. It proves that every lifecycle
follows its own case (only its case's and its steps' endpoints: never a department's list), that every started
lifecycle finishes, that each service process is charged CPU per lifecycle from ``/proc``, and that the printed
lines are there. No speed is asserted: the suite shares two cores with everything else, and speed goals belong to
``./hall bench`` itself.
"""

from __future__ import annotations

import math
import sys

import pytest

from deploy.processes import ROOT, SERVICES, Launcher
from shared.settings import HallSettings
from tests.bench import closed_loop, rates_ladder
from tests.bench_cpu import BENCH, Processes
from tests.bench_open import HEADER, ROUTES

pytestmark = pytest.mark.e2e

RATE, HOLD_S = 2.0, 3.0


async def test_the_bench_follows_each_case_by_its_own_endpoints_and_charges_each_process_its_cpu(
    processes: Launcher, settings: HallSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    base = f"http://127.0.0.1:{processes.ports['gateway']}"
    hall = Processes.of_hall(processes, infra_home=ROOT / ".hall")
    instances = [name for service in SERVICES for name in processes.running_instances(service)]
    assert set(instances) <= set(hall.pids)
    assert BENCH in hall.pids

    results, sent = await rates_ladder(
        settings, base, [RATE], hold_s=HOLD_S, drain_s=90, processes=hall, warm_up=0, bare_n=20, poll_s=0.1
    )
    await closed_loop(settings, base, 3, 3, hall, warm_up=0, bare_n=20, poll_s=0.1)
    printed = capsys.readouterr().out
    with capsys.disabled():
        sys.stdout.write("\n" + printed)

    [result] = results
    assert not result.failures, result.failures
    assert (result.started, result.finished, result.unfinished) == (6, 6, 0)
    # Each lifecycle asked only about its own case and steps: the department's inbox is never polled.
    assert set(sent) == ROUTES, sorted(sent)
    assert not [route for route in sent if "/departments/" in route]
    for done in result.done:
        assert done.requests["POST /api/steps/{step_id}/decision"] == 3
        assert 0 < done.submit_s <= done.total_s

    assert result.cpu is not None
    assert result.cpu.units == 6
    assert set(instances) <= set(result.cpu.seconds)
    assert result.cpu.seconds["gateway"] > 0, result.cpu.seconds  # it answered every request
    assert sum(result.cpu.seconds[name] for name in instances) > result.cpu.seconds["gateway"]
    assert math.isfinite(result.cpu.per_unit_ms("gateway"))

    assert HEADER in printed
    assert "highest rate sustained with e2e p99 under 2 s:" in printed
    assert "CPU ms per finished lifecycle" in printed
    for line in ("cases per second", "submit latency  p50 / p99", "end to end      p50 / p99", "all but bench"):
        assert line in printed, line
    assert printed.count("hall / bare throughput") == 2
    assert printed.count("CPU ms per message") == 2
    assert "GET /api/steps/{step_id}" in printed
    assert "/api/departments" not in printed
