"""The SLA board's API on the whole in-process hall: a case appears on the board with its department, item and
clerk, leaves it when completed and counts towards the on-time rate; only operators and supervisors see it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.halls import InProcessHall
from tests.journeys import auth, finish_journey, submit
from tests.support import eventually

pytestmark = pytest.mark.integration
OPERATOR = auth("op-qian")


async def board(hall: InProcessHall, **params: str) -> dict[str, Any]:
    response = await hall.client.get("/api/sla/board", params=params, headers=OPERATOR)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def clocks(hall: InProcessHall, case_no: str) -> dict[str, Any]:
    response = await hall.client.get(f"/api/sla/cases/{case_no}", headers=OPERATOR)
    if response.status_code == 404:  # the gateway has not seen the case's acceptance yet
        return {"clocks": [], "stopped": []}
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_case_is_on_the_board_until_it_is_completed_on_time(hall: InProcessHall) -> None:
    case_no = await submit(hall.client)

    async def running() -> dict[str, dict[str, Any]] | None:
        found = {c["purpose"]: c for c in (await clocks(hall, case_no))["clocks"]}
        return found if {"办件", "环节"} <= found.keys() else None

    found = await eventually(running, timeout_s=30)
    case = found["办件"]
    assert (case["department"], case["item_name"], case["owner_name"]) == ("自然资源局", "查封登记", "张敏")
    assert case["status"] in ("正常", "预警")  # 即办件: the warning may come at once during office hours
    assert found["环节"]["step_name"] == "承办"
    view = await board(hall)
    assert view["totals"]["normal"] + view["totals"]["warning"] >= 1
    assert any(c["name"] == "自然资源局" for c in view["by_department"])
    assert any(c["name"] == "张敏" for c in view["by_clerk"])
    assert any(c["name"] == "查封登记" for c in view["by_item"])

    await finish_journey(hall.client, case_no)

    async def completed() -> dict[str, Any] | None:
        stopped = [c for c in (await clocks(hall, case_no))["stopped"] if c["purpose"] == "办件"]
        return stopped[0] if stopped else None

    assert (await eventually(completed, timeout_s=30))["on_time"] is True
    assert "办件" not in [c["purpose"] for c in (await clocks(hall, case_no))["clocks"]]
    today = next(r for r in (await board(hall))["rates"] if r["period"] == "今日")
    assert today["on_time"] >= 1
    assert today["rate"] is not None


async def test_only_operators_and_supervisors_see_the_board(hall: InProcessHall) -> None:
    nobody = await hall.client.get("/api/sla/board")
    assert nobody.status_code == 401
    clerk = await hall.client.get("/api/sla/board", headers=auth("clerk-zhang"))
    assert clerk.status_code == 403
    assert "运维人员" in clerk.json()["detail"]
    supervisor = await hall.client.get("/api/sla/board", params={"department": "税务局"}, headers=auth("zrzy-boss"))
    assert supervisor.status_code == 200
    assert supervisor.json()["department"] == "自然资源局"  # a supervisor sees their own department only
    bad = await hall.client.get("/api/sla/board", params={"purpose": "排队"}, headers=OPERATOR)
    assert bad.status_code == 400
    assert "未知的时限类别" in bad.json()["detail"]
    page = await hall.client.get("/sla", follow_redirects=False)
    assert page.status_code in (302, 303, 307)
    assert "/login?next=/sla" in page.headers["location"]
