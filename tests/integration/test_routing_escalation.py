"""A step that overruns its own limit is escalated to its department's supervisor by the real timing service,
on a manual clock, while the case as a whole is still within its promised time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest

from shared import topics
from shared.clock import SYSTEM_CLOCK, ManualClock
from shared.rebuild import decoded, read_topics
from shared.settings import HallSettings
from tests.halls import InProcessHall, fresh_settings, in_process_hall
from tests.journeys import APPLICATION, CLERK, auth, inbox_steps, state, submit
from tests.support import eventually

pytestmark = pytest.mark.integration

GAS = "11150525000120002"  # 用气报装, 住建局: promised 5 working days, so 承办 has 2.5 of them
SUPERVISOR, STAFF = auth("zj-boss"), auth("zj-zhao")


@pytest.fixture(scope="module")
async def timed(settings: HallSettings) -> AsyncIterator[tuple[InProcessHall, ManualClock]]:
    clock = ManualClock(SYSTEM_CLOCK.now())
    async with in_process_hall(await fresh_settings(settings), clock=clock) as running:
        yield running, clock


async def alerts(settings: HallSettings) -> list[dict[str, Any]]:
    """Every ClockAlerted on timing.events so far."""
    records = await read_topics(settings.kafka_bootstrap_servers, settings.namespace, [topics.TIMING_EVENTS])
    return [msgspec.json.decode(e.payload) for _, e in decoded(records) if e.type == "ClockAlerted.v1"]


async def test_a_step_past_its_own_limit_is_escalated_though_the_case_is_on_time(
    timed: tuple[InProcessHall, ManualClock],
) -> None:
    hall, clock = timed
    client = hall.client
    application = {**APPLICATION, "item_code": GAS, "materials": ["M01", "M02"]}
    case_no = await submit(client, application)
    case = await state(client, case_no, "办理中")

    async def clocked() -> dict[str, Any] | None:
        steps = await inbox_steps(client, "/api/departments/住建局/steps", STAFF)
        mine = [s for s in steps if s["case_no"] == case_no and s["due"]]
        return mine[0] if mine else None

    step = await eventually(clocked)
    assert step["limit"] == {"value": 2.5, "unit": "WD"}
    due = datetime.fromisoformat(step["due"])

    async def escalated() -> list[dict[str, Any]] | None:
        response = await client.get("/api/departments/住建局/escalations", headers=SUPERVISOR)
        assert response.status_code == 200, response.text
        return [e for e in response.json()["items"] if e["step_id"] == step["step_id"]] or None

    clock.set(due + timedelta(minutes=5))  # the step's own deadline has passed
    found = await eventually(escalated, timeout_s=30)
    assert [e["level"] for e in found] == ["逾期"]

    step_alerts = [a for a in await alerts(hall.settings) if a["clock_id"] == step["step_id"]]
    case_alerts = [a for a in await alerts(hall.settings) if a["clock_id"] == case["case_id"]]
    assert "逾期" in [a["level"] for a in step_alerts]
    assert "逾期" not in [a["level"] for a in case_alerts]  # the case itself is not overdue

    listed = await inbox_steps(client, "/api/departments/住建局/steps", STAFF)
    mine = next(s for s in listed if s["step_id"] == step["step_id"])
    assert (mine["sla"], mine["escalations"]) == ("逾期", ["逾期"])
    page = await client.get("/workbench", headers=SUPERVISOR)
    assert "超时督办" in page.text
    assert case_no in page.text
    timeline = (await client.get(f"/api/cases/{case_no}", headers=CLERK)).json()["timeline"]
    assert [e["type"] for e in timeline].count("StepEscalated.v1") == 1
