"""Bad input gets a 4xx with a specific reason, and changes nothing."""

from __future__ import annotations

import copy

import pytest

from tests.integration.conftest import InProcessHall
from tests.journeys import APPLICATION, CLERK, STAFF, open_step, submit

pytestmark = pytest.mark.integration


async def test_malformed_json_is_refused(hall: InProcessHall) -> None:
    response = await hall.client.post(
        "/api/cases", content=b'{"item_code": "1115', headers={**CLERK, "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "truncated" in response.json()["detail"]


async def test_an_unknown_field_is_named(hall: InProcessHall) -> None:
    body = {**APPLICATION, "priority": "urgent"}
    response = await hall.client.post("/api/cases", json=body, headers=CLERK)
    assert response.status_code == 400
    assert "priority" in response.text


async def test_a_wrong_type_is_named(hall: InProcessHall) -> None:
    body = copy.deepcopy(APPLICATION)
    body["materials"] = "M01"
    response = await hall.client.post("/api/cases", json=body, headers=CLERK)
    assert response.status_code == 400
    assert "materials" in response.text
    assert "array" in response.text


async def test_an_unknown_item_is_refused_by_intake(hall: InProcessHall) -> None:
    body = {**APPLICATION, "item_code": "99999999"}
    response = await hall.client.post("/api/cases", json=body, headers=CLERK)
    assert response.status_code == 422
    assert response.json()["detail"] == "未知事项编码：99999999"


async def test_missing_materials_are_all_listed_at_once(hall: InProcessHall) -> None:
    body = {**APPLICATION, "materials": []}
    response = await hall.client.post("/api/cases", json=body, headers=CLERK)
    assert response.status_code == 200
    answer = response.json()
    assert answer["outcome"] == "待补正"
    assert answer["case_no"] == ""
    assert [m["code"] for m in answer["missing"]] == ["M01", "M02"]


async def test_a_caller_must_say_who_they_are(hall: InProcessHall) -> None:
    response = await hall.client.post("/api/cases", json=APPLICATION)
    assert response.status_code == 401
    assert "X-Hall-User" in response.json()["detail"]


async def test_a_step_is_decided_once_and_only_by_its_department(hall: InProcessHall) -> None:
    case_no = await submit(hall.client)
    step_id = await open_step(hall.client, case_no)
    decision = {"action": "通过", "opinion": "同意"}
    stranger = await hall.client.post(
        f"/api/steps/{step_id}/decision", json=decision, headers={"X-Hall-User": "sw-liu"}
    )
    assert stranger.status_code == 403
    assert "自然资源局" in stranger.json()["detail"]
    first = await hall.client.post(f"/api/steps/{step_id}/decision", json=decision, headers=STAFF)
    assert first.status_code == 200
    again = await hall.client.post(f"/api/steps/{step_id}/decision", json=decision, headers=STAFF)
    assert again.status_code == 409
    assert "不能重复办理" in again.json()["detail"]
    case = (await hall.client.get(f"/api/cases/{case_no}")).json()
    assert [e["type"] for e in case["timeline"]].count("StepDecided.v1") == 1


async def test_a_retried_submission_with_the_same_idempotency_key_gets_the_first_answer(hall: InProcessHall) -> None:
    headers = {**CLERK, "Idempotency-Key": "kiosk-retry-7f3a"}
    first = await hall.client.post("/api/cases", json=APPLICATION, headers=headers)
    second = await hall.client.post("/api/cases", json=APPLICATION, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
