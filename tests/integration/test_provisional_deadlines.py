"""暂定 deadlines through the gateway on the real Kafka and Redis: timing's events for a case whose deadlines rest on
2027 (no official holiday schedule yet) reach every API that shows a deadline, marked provisional; its
DeadlineRevised moves each of them, visibly. A gateway of its own namespace reads what this test publishes in
the other services' place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.gateway.app import create_app
from services.timing.messages import ClockRefused
from shared import topics
from shared.settings import HallSettings
from tests.halls import asgi_client, fresh_settings, lifespan
from tests.journeys import auth
from tests.provisional_events import (
    CASE_NO,
    CLERK,
    OPERATOR_TEXT,
    SCENARIO_NOW,
    STEP_ID,
    Publisher,
    accepted,
    as_of,
    revised,
    started,
    step_opened,
)
from tests.support import eventually

pytestmark = pytest.mark.integration
ID_NUMBER = "150525199001011237"
STEP_CLOCK = {"clock_id": STEP_ID, "purpose": "环节", "step_id": STEP_ID}


@pytest.fixture
async def gateway(settings: HallSettings) -> AsyncIterator[tuple[httpx.AsyncClient, Publisher]]:
    own = await fresh_settings(settings)
    app = create_app(own)
    with as_of(SCENARIO_NOW):
        async with lifespan(app), asgi_client(app) as client, Publisher(own) as publisher:
            yield client, publisher


async def got(client: httpx.AsyncClient, url: str, user: str, **params: str) -> dict[str, Any] | None:
    response = await client.get(url, params=params, headers=auth(user))
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_every_deadline_api_marks_provisional_deadlines_and_follows_their_revision(
    gateway: tuple[httpx.AsyncClient, Publisher],
) -> None:
    client, bus = gateway
    await bus.send(topics.INTAKE_EVENTS, accepted(), actor=CLERK)
    await bus.send(topics.ROUTING_EVENTS, step_opened())
    await bus.send(topics.TIMING_EVENTS, started())
    await bus.send(topics.TIMING_EVENTS, started(**STEP_CLOCK))

    async def case(wanted: str) -> dict[str, Any] | None:
        body = await got(client, f"/api/cases/{CASE_NO}", "clerk-zhang")
        lines = [] if body is None else [e["summary"] for e in body["timeline"]]
        return body if any(wanted in line for line in lines) else None

    shown = await eventually(lambda: case("环节开始计时"))
    dossier = shown["dossier"]
    assert (dossier["promised_deadline"], dossier["provisional"], dossier["provisional_years"]) == (
        "2027-01-04T17:30:00+08:00",
        True,
        [2027],
    )
    summaries = [e["summary"] for e in shown["timeline"]]
    assert "开始计时，承诺办结时间 2027-01-04 17:30（暂定，以国务院公布的放假安排为准）" in summaries
    # The case's own clock now, in the hall's working time, as the board reckons it.
    limit = shown["time_limit"]
    assert (limit["status"], limit["deadline"], limit["provisional"]) == ("正常", "2027-01-04T17:30:00+08:00", True)
    assert limit["remaining"] == f"剩余 {limit['remaining_days']:.1f} 个工作日"
    assert limit["remaining_days"] > 1

    lookup = await got(client, "/api/lookup", "kiosk-01", case_no=CASE_NO, id_number=ID_NUMBER)
    assert lookup is not None
    assert (lookup["provisional"], lookup["provisional_years"], lookup["revised_from"]) == (True, [2027], None)
    assert lookup["time_limit"]["remaining"] == limit["remaining"]
    assert "deadline_note" not in lookup

    async def inbox() -> dict[str, Any] | None:
        body = await got(client, "/api/departments/自然资源局/steps", "zrzy-li")
        steps = [] if body is None else [s for s in body["items"] if s["step_id"] == STEP_ID and s["due"]]
        return steps[0] if steps else None

    step = await eventually(inbox)
    assert (step["provisional"], step["provisional_years"], step["sla"]) == (True, [2027], "正常")
    assert step["remaining"] == f"剩余 {step['remaining_days']:.1f} 个工作日"  # in the hall's working time

    board = await got(client, "/api/sla/board", "op-qian")
    assert board is not None
    assert board["banner"] == "2027 年的放假安排尚未公布，相关期限为暂定"
    (row,) = [r for r in board["closest"] if r["case_no"] == CASE_NO]
    assert (row["provisional"], row["correction"]) == (True, "")

    # 2027's schedule is loaded: timing revises each open clock once.
    await bus.send(topics.TIMING_EVENTS, revised())
    await bus.send(topics.TIMING_EVENTS, revised(**STEP_CLOCK, retracted=["预警"], status_before="预警"))

    shown = await eventually(lambda: case("环节期限更正"))
    dossier = shown["dossier"]
    assert (dossier["promised_deadline"], dossier["provisional"], dossier["revised_from"]) == (
        "2027-01-06T17:30:00+08:00",
        False,
        "2027-01-04T17:30:00+08:00",
    )
    summaries = [e["summary"] for e in shown["timeline"]]
    assert "期限更正：2027-01-04 17:30 → 2027-01-06 17:30（2027 年放假安排已公布，按正式安排重新计算）" in summaries

    lookup = await got(client, "/api/lookup", "kiosk-01", case_no=CASE_NO, id_number=ID_NUMBER)
    assert lookup is not None
    assert (lookup["promised_deadline"], lookup["provisional"]) == ("2027-01-06T17:30:00+08:00", False)
    assert lookup["time_limit"]["remaining_days"] > limit["remaining_days"]  # two days later, and not 暂定
    assert not lookup["time_limit"]["provisional"]
    assert any(s["summary"].startswith("期限更正：") for s in lookup["steps"])

    step = await eventually(inbox)
    assert (step["due"], step["provisional"]) == ("2027-01-06T17:30:00+08:00", False)
    detail = await got(client, f"/api/steps/{STEP_ID}", "zrzy-li")
    assert detail is not None
    assert any(r["action"] == "期限更正" and "由预警更正为正常" in r["summary"] for r in detail["records"])

    board = await got(client, "/api/sla/board", "op-qian")
    assert board is not None
    assert (board["banner"], board["provisional_years"]) == ("", [])
    rows = {r["clock_id"]: r for r in board["closest"] if r["case_no"] == CASE_NO}
    assert len(rows) == 1  # the board shows case clocks (办件); the step clock is under 环节
    (row,) = rows.values()
    assert (row["deadline"], row["provisional"], row["revised_from"]) == (
        "2027-01-06T17:30:00+08:00",
        False,
        "2027-01-04T17:30:00+08:00",
    )
    assert row["correction"] == "已按 2027 年正式放假安排更正"
    steps_board = await got(client, "/api/sla/board", "op-qian", purpose="环节")
    assert steps_board is not None
    (step_row,) = [r for r in steps_board["closest"] if r["clock_id"] == STEP_ID]
    assert step_row["correction"] == "原 预警，按正式放假安排更正为 正常"


async def test_an_old_clock_refusal_never_shows_the_operators_command(
    gateway: tuple[httpx.AsyncClient, Publisher],
) -> None:
    client, bus = gateway
    await bus.send(topics.INTAKE_EVENTS, accepted(), actor=CLERK)
    await bus.send(topics.TIMING_EVENTS, ClockRefused(case_no=CASE_NO, reason=OPERATOR_TEXT, year=2027))

    async def refused() -> dict[str, Any] | None:
        body = await got(client, f"/api/cases/{CASE_NO}", "clerk-zhang")
        return body if body is not None and len(body["timeline"]) >= 2 else None

    shown = await eventually(refused)
    text = str(shown)
    assert "calendar" not in text
    assert "工作日历" not in text
    assert "办件时限计算中" in [e["summary"] for e in shown["timeline"]]
    assert (shown["dossier"]["promised_deadline"], shown["dossier"]["provisional"]) == (None, False)
    lookup = await got(client, "/api/lookup", "kiosk-01", case_no=CASE_NO, id_number=ID_NUMBER)
    assert lookup is not None
    assert "calendar" not in str(lookup)
