"""The SLA board's lists on the whole in-process hall: paged by deadline with a total and an opaque cursor,
remaining time in working days, a 400 naming a bad list or limit, and a 422 for a cursor no answer gave."""

from __future__ import annotations

from typing import Any

import pytest

from tests.halls import InProcessHall
from tests.journeys import auth, submit
from tests.support import eventually

pytestmark = pytest.mark.integration
OPERATOR = auth("op-qian")


async def page(hall: InProcessHall, name: str, **params: str) -> dict[str, Any]:
    response = await hall.client.get(f"/api/sla/lists/{name}", params={"purpose": "", **params}, headers=OPERATOR)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_closest_list_pages_through_every_running_clock_once(hall: InProcessHall) -> None:
    cases = {await submit(hall.client), await submit(hall.client)}

    async def listed() -> list[dict[str, Any]] | None:
        rows: list[dict[str, Any]] = []
        cursor, total = "", None
        while True:
            found = await page(hall, "closest", limit="1", **({"cursor": cursor} if cursor else {}))
            assert len(found["rows"]) <= 1
            total = found["total"] if total is None else total
            rows += found["rows"]
            cursor = found.get("next_cursor") or ""
            if not cursor:
                break
        mine = [r for r in rows if r["case_no"] in cases and r["purpose"] == "办件"]
        return rows if len(mine) == 2 and len(rows) == total else None

    rows = await eventually(listed, timeout_s=30)
    keys = [(r["deadline"], r["clock_id"]) for r in rows]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)  # no clock twice
    assert all(r["remaining"].startswith(("剩余", "已超期")) and "个工作日" in r["remaining"] for r in rows)
    board = await hall.client.get("/api/sla/board", params={"purpose": "", "limit": "1"}, headers=OPERATOR)
    assert board.status_code == 200
    assert board.json()["closest_total"] >= 2


@pytest.mark.parametrize(
    ("url", "params", "reason"),
    [
        ("/api/sla/lists/everything", {}, "未知的清单"),
        ("/api/sla/lists/overdue", {"limit": "0"}, "limit 须在 1 到 200 之间"),
        ("/api/sla/lists/overdue", {"limit": "201"}, "limit 须在 1 到 200 之间"),
        ("/api/sla/board", {"limit": "500"}, "limit 须在 1 到 200 之间"),
    ],
)
async def test_a_bad_list_limit_or_cursor_is_named(
    hall: InProcessHall, url: str, params: dict[str, str], reason: str
) -> None:
    response = await hall.client.get(url, params=params, headers=OPERATOR)
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"]


async def test_a_cursor_no_answer_gave_is_a_422(hall: InProcessHall) -> None:
    response = await hall.client.get("/api/sla/lists/overdue", params={"cursor": "not-a-cursor"}, headers=OPERATOR)
    assert response.status_code == 422, response.text
    assert "cursor 无效" in response.json()["detail"]
