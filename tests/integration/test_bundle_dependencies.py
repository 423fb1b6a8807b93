"""一件事的前后置 and 会签 over HTTP on the real hall (issue 14, item 2): in 企业开办, 刻章、领票 and 社保登记 wait for
设立登记; its refusal closes them 不予办理 with one notice and one 办结, its grant opens them with the 营业执照's
number; a co-department's 会签 step runs beside 承办 and 审核 in its own workbench, and 决定 waits for both."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec
import pytest

from shared import topics
from shared.rebuild import decoded, read_topics
from shared.settings import HallSettings
from tests.integration.conftest import InProcessHall
from tests.journeys import APPLICATION, auth, inbox_steps, state, submit
from tests.support import eventually

pytestmark = pytest.mark.integration

BUSINESS = "11150525YJS0001"  # 企业开办: 设立登记 (市场监管局) before 刻章 (公安局), 领票 (税务局), 社保 (人社局)
BUSINESS_FORM = ["reg.M01", "reg.M02", "reg.M03", "reg.M04", "tax.M02", "ss.M02"]
WATER = "11150525000120004"  # 用水报装（无外线工程）: 住建局, 自来水公司 会签
REG_PEOPLE = ("sj-gao", "sj-feng", "sj-boss")
LEAD_PEOPLE = ("zj-zhao", "zj-qin", "zj-boss")
GRANT = {"action": "通过", "opinion": "同意"}
FIRST = {"公安局": "ga-ma", "税务局": "sw-liu", "人社局": "rs-hu", "市场监管局": "sj-gao", "住建局": "zj-zhao"}


async def inbox(client: httpx.AsyncClient, department: str, user: str, case_no: str) -> list[dict[str, Any]]:
    return [
        s
        for s in await inbox_steps(client, f"/api/departments/{department}/steps", auth(user))
        if s["case_no"] == case_no
    ]


async def step_named(client: httpx.AsyncClient, department: str, user: str, case_no: str, name: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        found = [s for s in await inbox(client, department, user, case_no) if s["step_name"] == name]
        return found[0] if found else None

    step: dict[str, Any] = await eventually(probe)
    return step


async def act(client: httpx.AsyncClient, step_id: str, user: str, body: dict[str, Any]) -> None:
    assert (await client.post(f"/api/steps/{step_id}/claim", headers=auth(user))).status_code == 200
    answer = await client.post(f"/api/steps/{step_id}/decision", json=body, headers=auth(user))
    assert answer.status_code == 200, answer.text


async def published(settings: HallSettings, case_no: str, kind: str) -> list[dict[str, Any]]:
    records = await read_topics(settings.kafka_bootstrap_servers, settings.namespace, [topics.ROUTING_EVENTS])
    payloads = [msgspec.json.decode(e.payload) for _, e in decoded(records) if e.type == f"{kind}.v1"]
    return [p for p in payloads if p["case_no"] == case_no]


async def registration(client: httpx.AsyncClient, case_no: str, decision: dict[str, Any]) -> None:
    """设立登记's 承办 and 审核 granted, then its 决定 as given."""
    for name, user in zip(("承办", "审核"), REG_PEOPLE, strict=False):
        step = await step_named(client, "市场监管局", REG_PEOPLE[0], case_no, name)
        await act(client, step["step_id"], user, GRANT)
    step = await step_named(client, "市场监管局", REG_PEOPLE[0], case_no, "决定")
    await act(client, step["step_id"], REG_PEOPLE[2], decision)


async def test_registration_refused_closes_seal_tax_and_social_security_with_one_notice(hall: InProcessHall) -> None:
    client = hall.client
    applicant = {**APPLICATION["applicant"], "phone": "13812345678"}
    case_no = await submit(
        client, {**APPLICATION, "item_code": BUSINESS, "materials": BUSINESS_FORM, "applicant": applicant}
    )
    await step_named(client, "市场监管局", REG_PEOPLE[0], case_no, "承办")
    for department in ("公安局", "税务局", "人社局"):  # they wait for the 营业执照
        assert await inbox(client, department, FIRST[department], case_no) == []

    await registration(client, case_no, {"action": "不予许可", "opinion": "企业名称与已登记企业重复"})
    done = await state(client, case_no, "已办结")
    closed = [e["summary"] for e in done["timeline"] if "不予办理" in e["summary"]]
    assert len(closed) == 3, closed
    assert all("前置事项企业设立登记（市场监管局" in line and "不予许可" in line for line in closed)

    async def settled() -> list[dict[str, Any]] | None:
        found = await published(hall.settings, case_no, "ChildCompleted")
        return found if len(found) == 4 else None

    children = await eventually(settled)
    assert sorted((c["item_name"], c["result"]) for c in children) == [
        ("企业职工社会保险登记", "终止"),
        ("企业设立登记", "不予"),
        ("公章刻制备案", "终止"),
        ("新办纳税人涉税事项及发票申领", "终止"),
    ]
    assert all(c["closed_by"] == f"{case_no}-01" for c in children if c["result"] == "终止")
    notices = await published(hall.settings, case_no, "ApplicantNotified")
    assert [n["kind"] for n in notices] == ["不予办理"]  # one notice for the bundle, not one per child
    assert "企业名称与已登记企业重复" in notices[0]["text"]
    assert all(
        name in notices[0]["text"] for name in ("公章刻制备案", "新办纳税人涉税事项及发票申领", "企业职工社会保险登记")
    )
    assert len(await published(hall.settings, case_no, "CaseCompleted")) == 1

    async def printable() -> httpx.Response | None:  # the notice, kept by the gateway and printable
        page = await client.get(f"/workbench/notices/{notices[0]['notice_no']}", headers=auth(REG_PEOPLE[2]))
        return page if page.status_code == 200 else None

    page = await eventually(printable)
    assert "不予办理告知书" in page.text
    assert 'data-kind="不予办理"' in page.text
    for department in ("公安局", "税务局", "人社局"):  # never opened
        assert await inbox(client, department, FIRST[department], case_no) == []


async def test_registration_granted_opens_the_others_with_the_licence_number(hall: InProcessHall) -> None:
    client = hall.client
    case_no = await submit(client, {**APPLICATION, "item_code": BUSINESS, "materials": BUSINESS_FORM})

    async def lines(text: str, count: int) -> list[str] | None:
        response = await client.get(f"/api/cases/{case_no}", headers=auth("clerk-zhang"))
        if response.status_code == 404:  # the gateway does not know the case yet
            return None
        assert response.status_code == 200, response.text
        found = [e["summary"] for e in response.json()["timeline"] if text in e["summary"]]
        return found if len(found) == count else None

    # the three dependents' clocks stand still while 设立登记 runs
    assert await eventually(lambda: lines("子件时限暂停计时：等待前置事项准予", 3))
    await registration(client, case_no, {**GRANT, "licence_no": "91150525MA0TEST01X"})
    assert await eventually(lambda: lines("子件时限恢复计时", 3))  # and run from when their first step opens
    opened = await eventually(lambda: lines("前置事项已准予：企业设立登记（营业执照 91150525MA0TEST01X）", 3))
    assert all("承办环节开始" in line for line in opened)
    for department in ("公安局", "税务局", "人社局"):
        step = await step_named(client, department, FIRST[department], case_no, "承办")
        [before] = step["prerequisites"]
        assert (before["item_name"], before["licence_no"]) == ("企业设立登记", "91150525MA0TEST01X")
        page = await client.get(f"/workbench/steps/{step['step_id']}", headers=auth(FIRST[department]))
        assert page.status_code == 200
        assert '<strong class="licence-no">91150525MA0TEST01X</strong>' in page.text


async def test_countersign_runs_beside_the_lead_and_joins_before_the_decision(hall: InProcessHall) -> None:
    client = hall.client
    case_no = await submit(client, {**APPLICATION, "item_code": WATER, "materials": ["M01", "M02"]})
    countersign = await step_named(client, "自来水公司", "zls-bai", case_no, "会签")
    page = await client.get(f"/workbench/steps/{countersign['step_id']}", headers=auth("zls-bai"))
    assert page.status_code == 200
    assert 'id="countersign"' in page.text
    workbench = await client.get("/workbench", headers=auth("zls-bai"))
    assert case_no in workbench.text

    lead = await step_named(client, "住建局", LEAD_PEOPLE[0], case_no, "承办")
    await act(client, lead["step_id"], LEAD_PEOPLE[0], GRANT)
    review = await step_named(client, "住建局", LEAD_PEOPLE[0], case_no, "审核")
    await act(client, review["step_id"], LEAD_PEOPLE[1], GRANT)

    async def waiting() -> bool | None:  # 审核 done, and no 决定 while 自来水公司 has not countersigned
        return True if await inbox(client, "住建局", LEAD_PEOPLE[0], case_no) == [] else None

    await eventually(waiting)
    assert [s["status"] for s in await inbox(client, "自来水公司", "zls-bai", case_no)] == ["待办"]
    await act(client, countersign["step_id"], "zls-bai", GRANT)
    decision = await step_named(client, "住建局", LEAD_PEOPLE[0], case_no, "决定")
    await act(client, decision["step_id"], LEAD_PEOPLE[2], GRANT)
    done = await state(client, case_no, "已办结")
    assert any("自来水公司会签：通过" in e["summary"] for e in done["timeline"])


async def test_a_co_department_refusal_refuses_the_item_and_closes_the_leads_step(hall: InProcessHall) -> None:
    client = hall.client
    case_no = await submit(client, {**APPLICATION, "item_code": WATER, "materials": ["M01", "M02"]})
    lead = await step_named(client, "住建局", LEAD_PEOPLE[0], case_no, "承办")
    countersign = await step_named(client, "自来水公司", "zls-bai", case_no, "会签")
    await act(client, countersign["step_id"], "zls-bai", {"action": "不予许可", "opinion": "管网压力不足"})
    done = await state(client, case_no, "已办结")
    completed = [e["summary"] for e in done["timeline"] if e["type"] == "CaseCompleted.v1"]
    assert completed == ["办结，结果：不予；用水报装（无外线工程）（住建局）：会签部门自来水公司不同意：管网压力不足"]

    async def left() -> bool | None:
        return True if await inbox(client, "住建局", LEAD_PEOPLE[0], case_no) == [] else None

    await eventually(left)
    refused = await client.post(f"/api/steps/{lead['step_id']}/decision", json=GRANT, headers=auth(LEAD_PEOPLE[0]))
    assert refused.status_code == 409, refused.text
