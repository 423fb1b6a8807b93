"""Returns and suspensions end (issue 13, item 6), over HTTP on the real hall.

After 退回补正 the applicant supplements, at a kiosk with the ID number or at a clerk's window: the returned step
goes on and its clocks run again, recorded as the applicant's supplement. A return has its own limit (catalogue
``return_limit``, 15 working days by default) and a 容缺 suspension a further period (data/halls.toml
``suspension``); past it with nothing supplied the case is 退件: an event, a printable 退件通知书, the state 退件,
every clock stopped with that outcome (not overdue); a supplement after it is refused naming why. Time is moved
with a ManualClock in a hall of its own, never slept.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest
from stdnum.cn import ric

from shared import topics
from shared.clock import SYSTEM_CLOCK, ManualClock
from shared.localtime import local
from shared.rebuild import decoded, read_topics
from shared.settings import HallSettings
from tests.halls import InProcessHall, fresh_settings, in_process_hall
from tests.journeys import APPLICATION, CLERK, KIOSK, auth, inbox_steps, state
from tests.support import eventually

pytestmark = pytest.mark.integration

GAS = "11150525000120002"  # 用气报装, 住建局, 公共服务 (no 复议 on its notices)
QUALIFICATION = "11150525000120006"  # 建设工程企业资质, 住建局, 行政许可: M03, M04 可容缺
ID_NUMBER = "150525199001011237"
OPERATOR = auth("op-qian")


def application(item: str = GAS, materials: list[str] | None = None) -> dict[str, Any]:
    applicant = {**APPLICATION["applicant"], "id_number": ID_NUMBER, "phone": "13812345678"}
    return {**APPLICATION, "item_code": item, "materials": materials or ["M01", "M02"], "applicant": applicant}


async def submitted(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    response = await client.post("/api/cases", json=body, headers=CLERK)
    assert response.status_code == 201, response.text
    case_no: str = response.json()["case_no"]
    return case_no


async def first_step(client: httpx.AsyncClient, case_no: str) -> str:
    async def probe() -> str | None:
        found = [
            s
            for s in await inbox_steps(client, "/api/departments/住建局/steps", auth("zj-zhao"))
            if s["case_no"] == case_no and s["seq"] == 1
        ]
        return found[0]["step_id"] if found else None

    step_id: str = await eventually(probe)
    return step_id


async def step(client: httpx.AsyncClient, step_id: str, **wanted: Any) -> dict[str, Any]:
    """The step as the workbench shows it, once it has every ``wanted`` value."""

    async def probe() -> dict[str, Any] | None:
        response = await client.get(f"/api/steps/{step_id}", headers=auth("zj-zhao"))
        body: dict[str, Any] = response.json()["step"] if response.status_code == 200 else {}
        return body if body and all(body.get(k) == v for k, v in wanted.items()) else None

    found: dict[str, Any] = await eventually(probe)
    return found


async def returned_step(client: httpx.AsyncClient, case_no: str) -> str:
    """承办 claimed and 退回补正 for M02 by 住建局; the step is 补正 on the workbench."""
    step_id = await first_step(client, case_no)
    claimed = await client.post(f"/api/steps/{step_id}/claim", headers=auth("zj-zhao"))
    assert claimed.status_code == 200, claimed.text
    body = {"action": "退回", "opinion": "房屋产权证明复印件不清晰", "materials": ["M02"]}
    decided = await client.post(f"/api/steps/{step_id}/decision", json=body, headers=auth("zj-zhao"))
    assert decided.status_code == 200, decided.text
    await step(client, step_id, waiting="补正", paused=True)
    return step_id


async def timeline(client: httpx.AsyncClient, case_no: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/cases/{case_no}", headers=CLERK)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["timeline"]
    return entries


async def lines(client: httpx.AsyncClient, case_no: str, *wanted: str) -> list[str]:
    """The timeline's summaries once each of ``wanted`` is in one of them."""

    async def probe() -> list[str] | None:
        found = [e["summary"] for e in await timeline(client, case_no)]
        return found if all(any(w in s for s in found) for w in wanted) else None

    found: list[str] = await eventually(probe)
    return found


async def resumes_and_runs_again(client: httpx.AsyncClient, case_no: str, step_id: str, channel: str) -> None:
    """The step goes on, its clock and the case's run again, the return's clock is withdrawn; it can be decided."""
    await step(client, step_id, waiting="", paused=False)
    summaries = await lines(
        client,
        case_no,
        f"申请人补正材料（{channel}）：M02",
        "环节时限恢复计时",
        "办件时限恢复计时",
        "退回补正期限停止计时",
    )
    assert not any("退件" in s for s in summaries if "停止计时" in s)
    passed = await client.post(
        f"/api/steps/{step_id}/decision", json={"action": "通过", "opinion": "材料齐全"}, headers=auth("zj-zhao")
    )
    assert passed.status_code == 200, passed.text


async def test_a_kiosk_supplement_with_the_id_number_resumes_the_returned_step_and_its_clock(
    hall: InProcessHall,
) -> None:
    client = hall.client
    case_no = await submitted(client, application())
    step_id = await returned_step(client, case_no)
    url = f"/api/cases/{case_no}/materials"

    other = "15052519850101123"
    other += ric.calc_check_digit(other)
    wrong_id = await client.post(url, json={"materials": ["M02"], "id_number": other}, headers=KIOSK)
    assert wrong_id.status_code == 404, wrong_id.text
    stranger = await client.post(url, json={"materials": ["M07"], "id_number": ID_NUMBER}, headers=KIOSK)
    assert stranger.status_code == 422, stranger.text
    assert stranger.json()["detail"] == "这些材料不在退回补正清单中：M07（需补正：M02）"
    await step(client, step_id, waiting="补正")  # nothing changed on a refusal

    # The kiosk's lookup tells the applicant what the return asks for, named, and by when (after it: 退件).
    async def told() -> dict[str, Any] | None:
        found = await client.get("/api/lookup", params={"case_no": case_no, "id_number": ID_NUMBER}, headers=KIOSK)
        assert found.status_code == 200, found.text
        body: dict[str, Any] = found.json()
        return body if body["return_deadline"] else None

    shown = await eventually(told)
    assert [m["code"] for m in shown["returned"]] == ["M02"]
    assert shown["returned"][0]["name"] not in ("", "M02")  # the catalogue's name of the material

    done = await client.post(url, json={"materials": ["M02"], "id_number": ID_NUMBER}, headers=KIOSK)
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["received"] == ["M02"]
    assert [s["step_id"] for s in answer["resumed"]] == [step_id]
    assert answer["resumed"][0]["reason"] == "申请人补正材料（自助终端）：M02"
    await resumes_and_runs_again(client, case_no, step_id, "自助终端")
    resumed = [e for e in await timeline(client, case_no) if e["type"] == "StepResumed.v1"]
    assert [e["actor"]["id"] for e in resumed] == ["kiosk-01"]  # the applicant's supplement, at the kiosk
    after = await client.get("/api/lookup", params={"case_no": case_no, "id_number": ID_NUMBER}, headers=KIOSK)
    assert after.json()["returned"] == []  # nothing owed any more


async def test_a_clerk_supplements_a_returned_step_at_the_window(hall: InProcessHall) -> None:
    client = hall.client
    case_no = await submitted(client, application())
    step_id = await returned_step(client, case_no)
    done = await client.post(f"/api/cases/{case_no}/materials", json={"materials": ["M02"]}, headers=CLERK)
    assert done.status_code == 200, done.text
    assert done.json()["resumed"][0]["reason"] == "申请人补正材料（窗口）：M02"
    await resumes_and_runs_again(client, case_no, step_id, "窗口")
    again = await client.post(f"/api/cases/{case_no}/materials", json={"materials": ["M02"]}, headers=CLERK)
    assert again.status_code == 409, again.text  # nothing is owed any more (intake's answer, as before)
    assert again.json()["detail"] == f"办件 {case_no} 没有待补齐的材料"


async def test_deferred_materials_of_a_returned_case_still_go_to_its_deferral_list(hall: InProcessHall) -> None:
    """A returned case that owes 容缺 materials takes them at intake (not refused as strangers to the return); as
    any materials brought at the window, they let the returned step go on too (routing's rule since 退回 began)."""
    client = hall.client
    body = {**application(QUALIFICATION, ["M01", "M02", "M05"]), "deferral_signed": True}
    case_no = await submitted(client, body)
    step_id = await returned_step(client, case_no)
    deferred = await client.post(f"/api/cases/{case_no}/materials", json={"materials": ["M03", "M04"]}, headers=CLERK)
    assert deferred.status_code == 200, deferred.text
    assert deferred.json()["complete"] is True  # intake's answer: the 容缺 list is complete
    assert [m["code"] for m in deferred.json()["received"]] == ["M03", "M04"]
    await step(client, step_id, waiting="", paused=False)


@pytest.fixture
async def moved(settings: HallSettings) -> AsyncIterator[tuple[InProcessHall, ManualClock]]:
    clock = ManualClock(SYSTEM_CLOCK.now())
    async with in_process_hall(await fresh_settings(settings), clock=clock) as hall:
        yield hall, clock


async def timing_events(settings: HallSettings, kind: str) -> list[dict[str, Any]]:
    records = await read_topics(settings.kafka_bootstrap_servers, settings.namespace, [topics.TIMING_EVENTS])
    return [msgspec.json.decode(e.payload) for _, e in decoded(records) if e.type == f"{kind}.v1"]


async def returned_with_notice(hall: InProcessHall, case_no: str, cause: str) -> str:
    """The case is 退件 with its notice; every clock stopped with that outcome, none overdue. The notice's number."""
    client = hall.client
    body = await state(client, case_no, "退件")
    entry = next(e for e in body["timeline"] if e["type"] == "CaseReturned.v1")
    assert entry["summary"].startswith(
        f"退件：{'容缺受理的材料逾期未补齐' if cause == '容缺中止' else '住建局承办环节退回补正后'}"
    )
    assert entry["actor"]["kind"] == "system"
    notice_no: str = entry["summary"].rsplit("退件通知书 ", 1)[1].rstrip("）")

    async def stopped() -> list[dict[str, Any]] | None:
        found = [e for e in await timing_events(hall.settings, "ClockStopped") if e["case_no"] == case_no]
        case_clock = [e for e in found if e["purpose"] == "办件"]
        return found if case_clock else None

    stops = await eventually(stopped)
    assert {e["outcome"] for e in stops} == {"退件"}, stops
    await lines(client, case_no, "办件时限停止计时：退件（不计入超期）")
    board = await client.get("/api/sla/board", headers=OPERATOR)
    assert board.status_code == 200, board.text
    assert case_no not in board.text  # neither running nor overdue on the SLA board

    page = await client.get(f"/workbench/notices/{notice_no}", headers=CLERK)
    assert page.status_code == 200, page.text
    for text in (
        "退件通知书",
        '申请人（当事人）：<strong id="notice-party">赵小红',
        case_no,
        "本件作退件处理",
        "重新申报",
    ):
        assert text in page.text, text
    return notice_no


async def test_a_return_not_answered_within_its_limit_ends_in_a_returned_case(
    moved: tuple[InProcessHall, ManualClock],
) -> None:
    hall, clock = moved
    client = hall.client
    case_no = await submitted(client, application())
    step_id = await returned_step(client, case_no)

    async def return_clock() -> list[dict[str, Any]] | None:
        found = [e for e in await timing_events(hall.settings, "ClockStarted") if e["purpose"] == "退回补正"]
        return found or None

    started = await eventually(return_clock)
    assert [(e["case_no"], e["promised_limit"]) for e in started] == [(case_no, {"value": 15.0, "unit": "WD"})]
    deadline = datetime.fromisoformat(started[0]["promised_deadline"])

    async def return_notice() -> str | None:
        page = await client.get(f"/workbench/steps/{step_id}/notice", headers=CLERK)
        assert page.status_code == 200, page.text
        return page.text if "return-deadline" in page.text else None

    notice: str = await eventually(return_notice)
    assert f'补正期限至 <strong id="return-deadline">{local(deadline)}</strong>' in notice
    assert "逾期未补正的，本件作退件处理" in notice

    clock.set(deadline + timedelta(minutes=1))
    notice_no = await returned_with_notice(hall, case_no, "退回补正")
    page = (await client.get(f"/workbench/notices/{notice_no}", headers=CLERK)).text
    assert "需补正以下材料：M02" in page
    assert "不适用行政复议和行政诉讼" in page  # 用气 is a 公共服务: the complaint channels, not 复议

    assert case_no not in {
        s["case_no"] for s in await inbox_steps(client, "/api/departments/住建局/steps", auth("zj-zhao"))
    }
    url = f"/api/cases/{case_no}/materials"
    late = await client.post(url, json={"materials": ["M02"], "id_number": ID_NUMBER}, headers=KIOSK)
    assert late.status_code == 409, late.text
    assert late.json()["detail"].startswith(f"办件 {case_no} 已于 ")
    assert "退件（住建局承办环节退回补正后，申请人逾期未补正（期限15个工作日））" in late.json()["detail"]
    assert late.json()["detail"].endswith("不能再补正材料；请携带全部材料重新申报")
    resume = await client.post(f"/api/steps/{step_id}/resume", json={}, headers=auth("zj-zhao"))
    assert resume.status_code == 409, resume.text
    assert "退件" in resume.json()["detail"]


async def test_a_suspension_not_answered_within_its_further_period_ends_in_a_returned_case(
    moved: tuple[InProcessHall, ManualClock],
) -> None:
    hall, clock = moved
    client = hall.client
    digits = "15052519900101200"
    body = {
        **application(QUALIFICATION, ["M01", "M02", "M05"]),
        "deferral_signed": True,
        "supplement_limit": {"value": 1, "unit": "WD"},
    }
    body["applicant"] = {**body["applicant"], "id_number": digits + ric.calc_check_digit(digits + "0")}
    case_no = await submitted(client, body)

    async def supplement_deadline() -> str | None:
        response = await client.get(f"/api/cases/{case_no}", headers=CLERK)
        dossier = response.json()["dossier"] if response.status_code == 200 else None  # 404 until the gateway has it
        found: str | None = dossier.get("supplement_deadline") if dossier else None
        return found

    clock.set(datetime.fromisoformat(await eventually(supplement_deadline)) + timedelta(minutes=1))

    async def suspension() -> dict[str, Any] | None:
        found = [e for e in await timing_events(hall.settings, "ClockStarted") if e["purpose"] == "容缺中止"]
        return found[0] if found and found[0]["case_no"] == case_no else None

    started = await eventually(suspension)
    assert started["promised_limit"] == {"value": 15.0, "unit": "WD"}  # data/halls.toml [default] suspension
    clock.set(datetime.fromisoformat(started["promised_deadline"]) + timedelta(minutes=1))
    await returned_with_notice(hall, case_no, "容缺中止")
    late = await client.post(f"/api/cases/{case_no}/materials", json={"materials": ["M03", "M04"]}, headers=CLERK)
    assert late.status_code == 409, late.text
    assert "退件（容缺受理的材料逾期未补齐" in late.json()["detail"]
