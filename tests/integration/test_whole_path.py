"""The thin path through all five services over HTTP, on the real Kafka and Redis."""

from __future__ import annotations

import pytest

from tests.integration.conftest import InProcessHall
from tests.journeys import CLERK_ID, KIOSK, KIOSK_ID, KIOSK_PROOF, STAFF_ID, state, whole_journey

pytestmark = pytest.mark.integration


async def test_a_case_runs_from_the_window_to_its_rating(hall: InProcessHall) -> None:
    client = hall.client
    case_no = await whole_journey(client)

    case = await state(client, case_no, "已评价")
    types = [entry["type"] for entry in case["timeline"]]
    once = ("CaseAccepted.v1", "CaseCompleted.v1", "CaseDelivered.v1", "RatingRecorded.v1")
    for expected in once:
        assert types.count(expected) == 1, (expected, types)
    # 承办 → 审核 → 决定, each opened and decided once; the case and every step run on a clock.
    assert types.count("StepOpened.v1") == 3, types
    assert types.count("StepDecided.v1") == 3, types
    assert types.count("ClockStarted.v1") >= 4, types
    assert types.count("ClockStopped.v1") >= 4, types
    assert types[0] == "CaseAccepted.v1"
    actors = {entry["type"]: entry["actor"]["id"] for entry in case["timeline"]}
    assert actors["CaseAccepted.v1"] == CLERK_ID
    assert actors["StepDecided.v1"] == STAFF_ID
    assert actors["CaseDelivered.v1"] == CLERK_ID
    assert actors["RatingRecorded.v1"] == KIOSK_ID
    times = [entry["at"] for entry in case["timeline"]]
    assert times == sorted(times)
    stopped = next(e for e in case["timeline"] if e["type"] == "ClockStopped.v1")
    assert "按时办结" in stopped["summary"]


async def test_a_second_rating_is_refused_with_the_reason(hall: InProcessHall) -> None:
    case_no = await whole_journey(hall.client)
    again = await hall.client.post(
        f"/api/cases/{case_no}/ratings", json={"level": "满意", "channel": "自助终端", **KIOSK_PROOF}, headers=KIOSK
    )
    assert again.status_code == 409
    assert "不能重复评价" in again.json()["detail"]
