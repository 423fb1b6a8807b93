"""Anonymous case reads go only through number + ID (issue 11, items 4 and 9): ``GET /api/lookup`` answers without
any token, with progress only (no postal address, phone or staff names; the ID number masked), counts failed ID
checks per case number like the kiosk, and is documented as public; ``GET /api/cases/{no}`` stays 401.

One case goes the whole way with a phone number, a step claimed by a named member of staff and a delivery by post,
so every kind of personal detail the hall keeps for it is in its timeline when the public reads it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.gateway.limits import TAIL_FAILURES
from tests.halls import InProcessHall
from tests.journeys import _DIRECTORY, APPLICATION, CLERK, STAFF, STAFF_ID, _next_step, auth, state, submit
from tests.support import eventually

pytestmark = pytest.mark.integration

ID_NUMBER: str = APPLICATION["applicant"]["id_number"]
WRONG_ID = ID_NUMBER[:-4] + "0000"
PHONE = "13904751234"
ADDRESS = "内蒙古自治区通辽市奈曼旗大沁他拉镇团结路88号"


def _staff_name() -> str:
    user = _DIRECTORY.get(STAFF_ID)
    assert user is not None
    return user.name


async def lookup(client: httpx.AsyncClient, case_no: str, id_number: str, **kwargs: Any) -> httpx.Response:
    return await client.get("/api/lookup", params={"case_no": case_no, "id_number": id_number}, **kwargs)


async def known(hall: InProcessHall, case_no: str) -> None:
    """Wait until the gateway's read model has the case, asked by its clerk (a public lookup that misses would
    count as a failed ID check of the case number)."""

    async def found() -> bool | None:
        response = await hall.client.get(f"/api/cases/{case_no}", headers=CLERK)
        return True if response.status_code == 200 and response.json()["dossier"] else None

    await eventually(found)


@pytest.fixture(scope="module")
async def delivered(hall: InProcessHall) -> str:
    """A case with a phone, a step claimed by name and a delivery by post: accepted, decided, delivered."""
    client = hall.client
    application = {**APPLICATION, "applicant": {**APPLICATION["applicant"], "phone": PHONE}}
    case_no = await submit(client, application)
    done: set[str] = set()
    for number, opinion in enumerate(("材料齐全", "审核同意", "准予")):
        step_id = await _next_step(client, case_no, 0.1, done)
        if number == 0:
            claimed = await client.post(f"/api/steps/{step_id}/claim", headers=STAFF)
            assert claimed.status_code in (200, 202), claimed.text
        decided = await client.post(
            f"/api/steps/{step_id}/decision", json={"action": "通过", "opinion": opinion}, headers=STAFF
        )
        assert decided.status_code in (200, 202), decided.text
        done.add(step_id)
    await state(client, case_no, "已办结")
    posted = await client.post(f"/api/deliveries/{case_no}", json={"method": "邮寄", "address": ADDRESS}, headers=CLERK)
    assert posted.status_code in (200, 202), posted.text
    await state(client, case_no, "已出件")
    return case_no


async def test_the_public_reads_progress_only_with_number_and_id(hall: InProcessHall, delivered: str) -> None:
    answer = await lookup(hall.client, delivered, ID_NUMBER)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["case_no"] == delivered
    assert body["state"] == "已出件"
    summaries = [step["summary"] for step in body["steps"]]
    assert any("已认领" in s for s in summaries), summaries  # the claim is shown, without who claimed it
    assert any(s.startswith("统一窗口出件（邮寄") for s in summaries), summaries
    text = answer.text
    for secret in (ID_NUMBER, PHONE, ADDRESS, ADDRESS[-8:], _staff_name(), STAFF_ID):
        assert secret not in text, f"{secret} in the public answer"
    assert body["id_masked"].endswith(ID_NUMBER[-4:])
    assert "*" in body["id_masked"]
    # The same case read by its clerk does show what the public must not see: the probe above could have failed.
    staff_view = await hall.client.get(f"/api/cases/{delivered}", headers=CLERK)
    assert _staff_name() in staff_view.text


async def test_without_a_token_the_case_itself_stays_closed(hall: InProcessHall, delivered: str) -> None:
    closed = await hall.client.get(f"/api/cases/{delivered}")
    assert closed.status_code == 401, closed.text
    assert "请先登录" in closed.json()["detail"]
    ratings = await hall.client.get(f"/api/cases/{delivered}/ratings")
    assert ratings.status_code == 401, ratings.text


async def test_a_wrong_id_reads_like_no_such_case(hall: InProcessHall) -> None:
    case_no = await submit(hall.client)
    await known(hall, case_no)
    wrong = await lookup(hall.client, case_no, WRONG_ID)
    missing = await lookup(hall.client, "15052519990101999999", WRONG_ID)
    assert (wrong.status_code, missing.status_code) == (404, 404)
    assert wrong.json() == missing.json()
    empty = await lookup(hall.client, case_no, "")
    assert empty.status_code == 404


async def test_failed_id_checks_run_out_per_case_for_the_public_too(hall: InProcessHall) -> None:
    case_no, other = await submit(hall.client), await submit(hall.client)
    await known(hall, case_no)
    await known(hall, other)
    for _ in range(TAIL_FAILURES):
        wrong = await lookup(hall.client, case_no, WRONG_ID)
        assert wrong.status_code == 404, wrong.text
    right = await lookup(hall.client, case_no, ID_NUMBER)
    assert right.status_code == 429, right.text
    assert 0 < int(right.headers["retry-after"]) <= 3600
    assert "失败次数过多" in right.json()["detail"]
    assert (await lookup(hall.client, other, ID_NUMBER)).status_code == 200, "another case number is not held up"


async def test_a_token_presented_must_be_good_and_its_role_may_look_up(hall: InProcessHall) -> None:
    case_no = await submit(hall.client)
    await known(hall, case_no)
    garbled = await lookup(hall.client, case_no, ID_NUMBER, headers={"Authorization": "Bearer not-a-token"})
    assert garbled.status_code == 401, garbled.text
    staff = await lookup(hall.client, case_no, ID_NUMBER, headers=STAFF)
    assert staff.status_code == 403, staff.text
    kiosk = await lookup(hall.client, case_no, ID_NUMBER, headers=auth("kiosk-01"))
    assert kiosk.status_code == 200, kiosk.text


async def test_the_lookup_is_documented_as_public(hall: InProcessHall) -> None:
    document = (await hall.client.get("/schema/openapi.json")).json()
    operation = document["paths"]["/api/lookup"]["get"]
    assert "security" not in operation
    assert {"200", "401", "403", "404", "429"} <= set(operation["responses"])
    assert operation["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    assert document["paths"]["/api/cases/{case_no}"]["get"]["security"], "the case itself needs a session"
