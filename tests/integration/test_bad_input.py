"""Bad input gets a 4xx with a specific reason, and changes nothing."""

from __future__ import annotations

import copy

import pytest

from tests.integration.conftest import InProcessHall
from tests.journeys import APPLICATION, CLERK, STAFF, auth, open_step, submit

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


async def test_a_caller_must_sign_in(hall: InProcessHall) -> None:
    response = await hall.client.post("/api/cases", json=APPLICATION)
    assert response.status_code == 401
    assert "登录" in response.json()["detail"]
    forged = await hall.client.post("/api/cases", json=APPLICATION, headers={"Authorization": "Bearer abc.def"})
    assert forged.status_code == 401
    assert "凭证无效" in forged.json()["detail"]


async def test_a_clerk_signs_in_with_a_password_and_gets_a_token(hall: InProcessHall) -> None:
    wrong = await hall.client.post("/api/session", json={"user_id": "clerk-zhang", "password": "guess"})
    assert wrong.status_code == 401
    session = await hall.client.post("/api/session", json={"user_id": "clerk-zhang", "password": "hall2026"})
    assert session.status_code == 201, session.text
    token = session.json()["token"]
    response = await hall.client.post("/api/cases", json=APPLICATION, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text


async def test_a_page_sends_nobody_to_the_login_and_a_login_back(hall: InProcessHall) -> None:
    page = await hall.client.get("/", follow_redirects=False)
    assert page.status_code in (302, 303, 307)
    assert page.headers["location"].startswith("/login")
    form = {"user_id": "zrzy-li", "password": "hall2026", "next": "/workbench"}
    login = await hall.client.post("/login", data=form, follow_redirects=False)
    hall.client.cookies.clear()  # the shared client must stay signed out for the other tests
    assert login.status_code == 303, login.text
    assert login.headers["location"] == "/workbench"
    assert "hall_session" in login.headers["set-cookie"]
    refused = await hall.client.post("/login", data={**form, "password": "x"}, follow_redirects=False)
    assert refused.status_code == 401
    assert "口令不正确" in refused.text


async def test_a_step_is_decided_once_and_only_by_its_department(hall: InProcessHall) -> None:
    case_no = await submit(hall.client)
    step_id = await open_step(hall.client, case_no)
    decision = {"action": "通过", "opinion": "同意"}
    stranger = await hall.client.post(f"/api/steps/{step_id}/decision", json=decision, headers=auth("sw-liu"))
    assert stranger.status_code == 403
    assert "自然资源局" in stranger.json()["detail"]
    first = await hall.client.post(f"/api/steps/{step_id}/decision", json=decision, headers=STAFF)
    assert first.status_code == 200
    again = await hall.client.post(f"/api/steps/{step_id}/decision", json=decision, headers=STAFF)
    assert again.status_code == 409
    assert "不能重复办理" in again.json()["detail"]
    case = (await hall.client.get(f"/api/cases/{case_no}", headers=CLERK)).json()
    assert [e["type"] for e in case["timeline"]].count("StepDecided.v1") == 1


async def test_a_retried_submission_with_the_same_idempotency_key_gets_the_first_answer(hall: InProcessHall) -> None:
    headers = {**CLERK, "Idempotency-Key": "kiosk-retry-7f3a"}
    first = await hall.client.post("/api/cases", json=APPLICATION, headers=headers)
    second = await hall.client.post("/api/cases", json=APPLICATION, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
