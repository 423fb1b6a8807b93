"""Rating windows and corrections run on timing's clocks: with time moved on (a ManualClock in a hall of its own),
an unrated service gets the default rating exactly once and an uncorrected bad review shows overdue at the desk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from shared.clock import SYSTEM_CLOCK, ManualClock
from shared.settings import HallSettings
from tests.halls import InProcessHall, fresh_settings, in_process_hall
from tests.journeys import KIOSK, KIOSK_PROOF, all_items, auth, submit
from tests.support import eventually

pytestmark = pytest.mark.integration

PAD = auth("pad-01")  # stands at clerk-zhang's window, who accepts the journeys' cases
STAFF = auth("zrzy-li")
WINDOW_DESK = auth("hall-boss")  # a 受理-stage bad review is the window's: 行政审批和政务服务局 handles it


@pytest.fixture(scope="module")
async def moved(settings: HallSettings) -> AsyncIterator[tuple[InProcessHall, ManualClock]]:
    clock = ManualClock(SYSTEM_CLOCK.now())
    async with in_process_hall(await fresh_settings(settings), clock=clock) as hall:
        yield hall, clock


async def ratings_of(hall: InProcessHall, case_no: str, count: int) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]] | None:
        answer = await hall.client.get(f"/api/cases/{case_no}/ratings", headers=STAFF)
        if answer.status_code != 200:
            return None
        found: list[dict[str, Any]] = answer.json()["ratings"]
        return found if len(found) >= count else None

    return await eventually(probe)


async def test_an_unrated_service_gets_the_default_once_and_a_late_correction_shows_overdue(
    moved: tuple[InProcessHall, ManualClock],
) -> None:
    hall, clock = moved
    client = hall.client
    unrated, reviewed = await submit(client), await submit(client)

    async def pad_rates() -> Any:
        answer = await client.post(
            f"/api/cases/{reviewed}/ratings",
            json={"level": "非常不满意", "channel": "评价器", "stage": "受理", "text": "态度生硬"},
            headers=PAD,
        )
        return answer if answer.status_code != 404 else None  # the gateway may not know the case yet

    bad = await eventually(pad_rates)
    assert bad.status_code == 201, bad.text
    followup_id = bad.json()["followup_id"]

    async def window_known() -> bool | None:
        listed = await all_items(client, "/api/ratings/followups", WINDOW_DESK)
        return any(f["followup_id"] == followup_id and f["deadline"] for f in listed) or None

    await eventually(window_known)
    clock.advance(timedelta(days=40))  # past the 5-WD rating window and the 15-WD correction deadline

    (default,) = await ratings_of(hall, unrated, 1)
    assert (default["default"], default["channel"], default["level"], default["stage"]) == (
        True,
        "系统默认",
        "满意",
        "受理",
    )
    late = await client.post(
        f"/api/cases/{unrated}/ratings",
        json={"level": "非常满意", "channel": "自助终端", "stage": "受理", **KIOSK_PROOF},
        headers=KIOSK,
    )
    assert (late.status_code, late.json()["detail"]) == (409, "评价期已结束，系统已默认评价为“满意”，不能再评价")

    async def overdue() -> dict[str, Any] | None:
        answer = await client.get(f"/api/ratings/followups/{followup_id}", headers=WINDOW_DESK)
        body: dict[str, Any] = answer.json()
        return body if body["followup"]["overdue"] else None

    shown = await eventually(overdue)
    assert any(c["change"].startswith("整改逾期") for c in shown["history"])
    desk = await client.get("/ratings/desk", headers=WINDOW_DESK)
    assert desk.status_code == 200
    assert "已逾期" in desk.text
    extension = await client.post(
        f"/api/ratings/followups/{followup_id}/extension", json={"reason": "需协调"}, headers=WINDOW_DESK
    )
    assert extension.status_code == 409
    # The rated service kept its rating: no default came for it, and the unrated one got exactly one.
    assert [r["default"] for r in await ratings_of(hall, reviewed, 1)] == [False]
    assert len(await ratings_of(hall, unrated, 1)) == 1
