"""Legal acts within the law, over HTTP on the real hall (issue 13, items 2 and 3): 承办, 审核 and 决定 of one
case by three different people unless the 即办件's law lets one person do them; one extension of at most 10
working days for a 行政许可 (行政许可法 §42); special procedures only of the kinds the catalogue lists; each
approved extension and started special procedure gives the applicant a printable notice and an SMS the log-only
channel records with the phone masked."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import msgspec
import pytest

from shared import topics
from shared.rebuild import decoded, read_topics
from shared.settings import HallSettings
from tests.integration.conftest import InProcessHall
from tests.journeys import APPLICATION, CLERK, auth, inbox_steps, state, submit
from tests.support import eventually

pytestmark = pytest.mark.integration

GAS = "11150525000120002"  # 用气报装, 住建局, 公共服务: no special procedure in the catalogue
QUALIFICATION = "11150525000120006"  # 建设工程企业资质, 住建局, 行政许可: 专家评审 only
SEAL = "11150525000118001"  # 查封登记, 自然资源局, 即办件 done by one person (one_person = true)
PHONE, ID_NUMBER = "13812345678", "150525199001011237"
SEPARATION = "同一办件的承办、审核、决定须由不同人员办理"


def application(item: str, materials: list[str]) -> dict[str, Any]:
    applicant = {**APPLICATION["applicant"], "id_number": ID_NUMBER, "phone": PHONE}
    return {**APPLICATION, "item_code": item, "materials": materials, "applicant": applicant}


async def open_step(client: httpx.AsyncClient, department: str, user: str, case_no: str, seq: int) -> str:
    """The case's step ``seq`` (1 承办, 2 审核, 3 决定) once it is in the department's inbox."""

    async def probe() -> str | None:
        found = [
            s
            for s in await inbox_steps(client, f"/api/departments/{department}/steps", auth(user))
            if s["case_no"] == case_no and s["seq"] == seq
        ]
        return found[0]["step_id"] if found else None

    step_id: str = await eventually(probe)
    return step_id


async def claim(client: httpx.AsyncClient, step_id: str, user: str) -> httpx.Response:
    return await client.post(f"/api/steps/{step_id}/claim", headers=auth(user))


async def decide(client: httpx.AsyncClient, step_id: str, user: str) -> httpx.Response:
    body = {"action": "通过", "opinion": "同意"}
    return await client.post(f"/api/steps/{step_id}/decision", json=body, headers=auth(user))


async def test_one_person_may_not_do_two_steps_of_one_case(hall: InProcessHall) -> None:
    client = hall.client
    case_no = await submit(client, application(GAS, ["M01", "M02"]))
    first = await open_step(client, "住建局", "zj-zhao", case_no, 1)
    assert (await claim(client, first, "zj-zhao")).status_code == 200
    assert (await decide(client, first, "zj-zhao")).status_code == 200

    review = await open_step(client, "住建局", "zj-zhao", case_no, 2)
    for refused in (await claim(client, review, "zj-zhao"), await decide(client, review, "zj-zhao")):
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"].startswith(f"{SEPARATION}：赵丽已办理本件的承办，不能再办理审核")
    to_zhao = await client.post(f"/api/steps/{review}/reassign", json={"to": "zj-zhao"}, headers=auth("zj-boss"))
    assert to_zhao.status_code == 403, to_zhao.text
    assert SEPARATION in to_zhao.json()["detail"]
    assert (await decide(client, review, "zj-qin")).status_code == 200
    countersign = await open_step(client, "燃气企业", "rq-gao", case_no, 2)  # 燃气企业's 会签 joins before 决定
    assert (await claim(client, countersign, "rq-gao")).status_code == 200
    assert (await decide(client, countersign, "rq-gao")).status_code == 200

    decision = await open_step(client, "住建局", "zj-zhao", case_no, 3)
    for user, done in (("zj-zhao", "承办"), ("zj-qin", "审核")):
        refused = await decide(client, decision, user)
        assert refused.status_code == 403, refused.text
        assert f"已办理本件的{done}，不能再办理决定" in refused.json()["detail"]
    assert (await decide(client, decision, "zj-boss")).status_code == 200
    await state(client, case_no, "已办结")


async def test_a_quick_item_whose_law_allows_it_is_done_by_one_person(hall: InProcessHall) -> None:
    client = hall.client
    case_no = await submit(client, application(SEAL, ["M01", "M02"]))
    for seq in (1, 2, 3):
        step_id = await open_step(client, "自然资源局", "zrzy-li", case_no, seq)
        assert (await claim(client, step_id, "zrzy-li")).status_code == 200
        decided = await decide(client, step_id, "zrzy-li")
        assert decided.status_code == 200, decided.text
    await state(client, case_no, "已办结")


async def notified(settings: HallSettings, case_no: str) -> list[dict[str, Any]]:
    """Every ApplicantNotified of the case on routing.events, as a notification channel reads it."""
    records = await read_topics(settings.kafka_bootstrap_servers, settings.namespace, [topics.ROUTING_EVENTS])
    payloads = [
        msgspec.json.decode(envelope.payload)
        for _, envelope in decoded(records)
        if envelope.type == "ApplicantNotified.v1"
    ]
    return [p for p in payloads if p["case_no"] == case_no]


async def notice_page(client: httpx.AsyncClient, notice_no: str, user: str) -> httpx.Response | None:
    page = await client.get(f"/workbench/notices/{notice_no}", headers=auth(user))
    return page if page.status_code == 200 else None


async def test_a_licence_is_extended_once_by_at_most_ten_working_days_and_the_applicant_is_told(
    hall: InProcessHall, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hall.gateway.sms")
    client = hall.client
    case_no = await submit(client, application(QUALIFICATION, ["M01", "M02", "M03", "M04", "M05"]))
    step_id = await open_step(client, "住建局", "zj-zhao", case_no, 1)
    assert (await claim(client, step_id, "zj-zhao")).status_code == 200

    async def ask(value: float) -> httpx.Response:
        body = {"extension": {"value": value, "unit": "WD"}, "reason": "需组织现场核查"}
        return await client.post(f"/api/steps/{step_id}/extension", json=body, headers=auth("zj-zhao"))

    too_long = await ask(11)
    assert too_long.status_code == 422, too_long.text
    assert too_long.json()["detail"] == (
        "延长时限不得超过10个工作日（《中华人民共和国行政许可法》第四十二条），申请的11个工作日超出上限"
    )
    assert (await ask(10)).status_code == 200

    async def pending() -> bool | None:
        detail = (await client.get(f"/api/steps/{step_id}", headers=auth("zj-boss"))).json()
        return True if detail["step"]["extension"] else None

    await eventually(pending)
    approved = await client.post(
        f"/api/steps/{step_id}/extension/decision", json={"approve": True, "opinion": "同意"}, headers=auth("zj-boss")
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["published"] == ["ExtensionApproved", "ApplicantNotified"]
    again = await ask(1)
    assert again.status_code == 422, again.text
    assert again.json()["detail"] == (
        "本事项只能延长1次、每次不超过10个工作日（《中华人民共和国行政许可法》第四十二条），已延长1次，不能再延长"
    )

    notice_no = f"{case_no}-GZ01"
    page = await eventually(lambda: notice_page(client, notice_no, "zj-boss"))
    text = page.text
    for wanted in ("延长审批期限告知书", notice_no, "建设工程企业资质", "因需组织现场核查", "办理期限延长10个工作日"):
        assert wanted in text, wanted
    assert "《中华人民共和国行政许可法》第四十二条" in text
    assert "138****5678" in text
    assert PHONE not in text
    assert ID_NUMBER not in text
    assert (await client.get(f"/workbench/notices/{notice_no}", headers=auth("zrzy-li"))).status_code == 403
    desk = await client.get(f"/desk/cases/{case_no}", headers=CLERK)
    assert f"/workbench/notices/{notice_no}" in desk.text
    step_page = await client.get(f"/workbench/steps/{step_id}", headers=auth("zj-zhao"))
    assert f"/workbench/notices/{notice_no}" in step_page.text

    [event] = await notified(hall.settings, case_no)
    assert (event["kind"], event["notice_no"], event["title"]) == ("延长审批期限", notice_no, "延长审批期限告知书")
    assert "办理期限延长10个工作日" in event["text"]
    assert event["applicant_phone"].startswith("enc:")  # sealed on the bus: only a channel opens it
    assert PHONE not in str(event)
    assert ID_NUMBER not in str(event)

    sent = [r.getMessage() for r in caplog.records if r.name == "hall.gateway.sms" and notice_no in r.getMessage()]
    assert len(sent) == 1, sent
    assert "延长审批期限告知书" in sent[0]
    assert "138****5678" in sent[0]
    assert all(PHONE not in r.getMessage() and ID_NUMBER not in r.getMessage() for r in caplog.records)


async def test_special_procedures_only_of_the_kinds_the_item_allows(hall: InProcessHall) -> None:
    client = hall.client
    gas = await submit(client, application(GAS, ["M01", "M02"]))
    gas_step = await open_step(client, "住建局", "zj-zhao", gas, 1)
    assert (await claim(client, gas_step, "zj-zhao")).status_code == 200  # 特别程序 is the claimant's act
    hearing = await client.post(
        f"/api/steps/{gas_step}/special-procedure",
        json={"kind": "听证", "reason": "涉及相邻权"},
        headers=auth("zj-zhao"),
    )
    assert hearing.status_code == 422, hearing.text
    assert hearing.json()["detail"] == "本事项不适用特别程序，不能启动听证（事项目录未列特别程序）"
    gas_page = await client.get(f"/workbench/steps/{gas_step}", headers=auth("zj-zhao"))
    assert 'id="no-special">本事项不适用特别程序' in gas_page.text
    assert 'id="special-form"' not in gas_page.text

    licence = await submit(client, application(QUALIFICATION, ["M01", "M02", "M03", "M04", "M05"]))
    step_id = await open_step(client, "住建局", "zj-zhao", licence, 1)
    assert (await claim(client, step_id, "zj-zhao")).status_code == 200
    tested = await client.post(
        f"/api/steps/{step_id}/special-procedure", json={"kind": "检验", "reason": "x"}, headers=auth("zj-zhao")
    )
    assert tested.status_code == 422, tested.text
    assert tested.json()["detail"] == "本事项只适用以下特别程序：专家评审，不能启动检验"
    licence_page = await client.get(f"/workbench/steps/{step_id}", headers=auth("zj-zhao"))
    assert '<select id="kind" name="kind"><option>专家评审</option></select>' in licence_page.text
    experts = await client.post(
        f"/api/steps/{step_id}/special-procedure",
        json={"kind": "专家评审", "reason": "技术负责人业绩需专家认定"},
        headers=auth("zj-zhao"),
    )
    assert experts.status_code == 200, experts.text
    assert experts.json()["published"] == ["SpecialProcedureStarted", "ApplicantNotified"]
    page = await eventually(lambda: notice_page(client, f"{licence}-GZ01", "zj-zhao"))
    for wanted in ("特别程序告知书", "需要进行专家评审，理由：技术负责人业绩需专家认定", "不计算在办理期限内"):
        assert wanted in page.text, wanted
    assert "《中华人民共和国行政许可法》第四十五条" in page.text
