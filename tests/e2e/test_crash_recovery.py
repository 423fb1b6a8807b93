"""A service killed with SIGKILL mid-flight and restarted: every case completes, every step exists once."""

from __future__ import annotations

import asyncio
import functools
from collections import Counter

import httpx
import pytest

from deploy.processes import Launcher
from tests.journeys import CLERK, STAFF, finish_journey, inbox_steps, submit
from tests.support import eventually

pytestmark = pytest.mark.e2e
CASES = 8
EVENTS = {
    "CaseAccepted.v1",
    "StepOpened.v1",
    "StepDecided.v1",
    "CaseCompleted.v1",
    "ClockStarted.v1",
    "ClockStopped.v1",
    "CaseDelivered.v1",
    "RatingRecorded.v1",
}

# How often each of a case's own events happens: 承办, 审核 and 决定 are three steps of one department.
ONCE = {
    "CaseAccepted.v1": 1,
    "StepOpened.v1": 3,
    "StepDecided.v1": 3,
    "CaseCompleted.v1": 1,
    "CaseDelivered.v1": 1,
    "RatingRecorded.v1": 1,
}


async def whole_timeline(client: httpx.AsyncClient, case_no: str) -> Counter[str] | None:
    """How often each event is on the case's timeline, once every expected one is there."""
    case = (await client.get(f"/api/cases/{case_no}", headers=CLERK)).json()
    counts = Counter(entry["type"] for entry in case["timeline"])
    # Evaluation's rating-window clock also stops: wait for the case's own and its steps' clocks too.
    whole = set(counts) >= EVENTS and counts["ClockStarted.v1"] >= 4 and counts["ClockStopped.v1"] >= 4
    return counts if whole else None


@pytest.mark.parametrize("victim", ["routing", "timing"])
async def test_cases_survive_a_killed_service(processes: Launcher, gateway: httpx.AsyncClient, victim: str) -> None:
    submissions = [asyncio.create_task(submit(gateway)) for _ in range(CASES)]
    await asyncio.sleep(0.05)
    processes.kill(victim)  # while the accepted cases are on their way to it
    case_numbers = await asyncio.gather(*submissions)
    await asyncio.sleep(0.5)
    processes.start(victim)
    assert not processes.wait_healthy([victim], timeout_s=60)

    await asyncio.gather(*(finish_journey(gateway, case_no) for case_no in case_numbers))

    for case_no in case_numbers:
        counts = await eventually(functools.partial(whole_timeline, gateway, case_no), timeout_s=60)
        assert {kind: counts[kind] for kind in ONCE} == ONCE, (case_no, counts)
        # A case clock and one per step; rating windows add theirs.
        assert counts["ClockStarted.v1"] >= 4, (case_no, counts)
    assert not [
        s
        for s in await inbox_steps(gateway, "/api/departments/自然资源局/steps", STAFF)
        if s["case_no"] in case_numbers
    ]
