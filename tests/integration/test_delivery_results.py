"""Delivery records results, over HTTP on the real hall (issue 13, item 9): each item's (each bundle child's)
result is recorded at its 决定 with the licence it issues (证照名称 from the catalogue, 证照编号, 有效期); a grant
of an item that issues a licence without its number is refused naming the field; the pick-up list and a
bundle's 办理结果通知书 show every child's own result; the pick-up list is the clerk's own point's, paginated."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.conftest import InProcessHall
from tests.journeys import APPLICATION, CLERK, all_items, auth, inbox_steps, state, submit
from tests.support import eventually

pytestmark = pytest.mark.integration

QUALIFICATION = "11150525000120006"  # 建设工程企业资质, 住建局, 行政许可: issues 建设工程企业资质证书
BUSINESS = "11150525YJS0001"  # 企业开办: 设立登记 (市场监管局), 刻章 (公安局), 税务 (税务局), 社保 (人社局)
BUSINESS_FORM = ["reg.M01", "reg.M02", "reg.M03", "reg.M04", "tax.M02", "ss.M02"]
PEOPLE = {  # 承办, 审核, 决定: three different people (公章刻制备案 is one_person)
    "住建局": ("zj-zhao", "zj-qin", "zj-boss"),
    "市场监管局": ("sj-gao", "sj-feng", "sj-boss"),
    "公安局": ("ga-ma", "ga-ma", "ga-ma"),
    "税务局": ("sw-liu", "sw-tang", "sw-boss"),
    "人社局": ("rs-hu", "rs-deng", "rs-boss"),
}
GRANT = {"action": "通过", "opinion": "同意"}


async def open_step(client: httpx.AsyncClient, department: str, case_no: str, seq: int) -> str:
    async def probe() -> str | None:
        found = [
            s
            for s in await inbox_steps(client, f"/api/departments/{department}/steps", auth(PEOPLE[department][0]))
            if s["case_no"] == case_no and s["seq"] == seq
        ]
        return found[0]["step_id"] if found else None

    step_id: str = await eventually(probe)
    return step_id


async def act(client: httpx.AsyncClient, step_id: str, user: str, body: dict[str, Any]) -> httpx.Response:
    claimed = await client.post(f"/api/steps/{step_id}/claim", headers=auth(user))
    assert claimed.status_code in (200, 409), claimed.text  # 409: already claimed by this user (a retry)
    return await client.post(f"/api/steps/{step_id}/decision", json=body, headers=auth(user))


async def run_track(
    client: httpx.AsyncClient, department: str, case_no: str, decision: dict[str, Any], refuse_at: int = 0
) -> None:
    """承办, 审核 and 决定 by the department's three people; 不予许可 at step ``refuse_at`` if given."""
    for seq in (1, 2, 3):
        step_id = await open_step(client, department, case_no, seq)
        if seq == refuse_at:
            body = {"action": "不予许可", "opinion": "经营范围含需前置审批的项目，未提交许可文件"}
            refused = await act(client, step_id, PEOPLE[department][seq - 1], body)
            assert refused.status_code == 200, refused.text
            return
        answer = await act(client, step_id, PEOPLE[department][seq - 1], decision if seq == 3 else GRANT)
        assert answer.status_code == 200, answer.text


async def ready(client: httpx.AsyncClient, case_no: str, user: str = "clerk-zhang") -> dict[str, Any] | None:
    found = [c for c in await all_items(client, "/api/deliveries", auth(user)) if c["case_no"] == case_no]
    return found[0] if found else None


async def test_a_grant_records_its_licence_and_the_delivery_note_shows_it(hall: InProcessHall) -> None:
    client = hall.client
    body = {**APPLICATION, "item_code": QUALIFICATION, "materials": ["M01", "M02", "M03", "M04", "M05"]}
    case_no = await submit(client, body)
    for seq in (1, 2):
        step_id = await open_step(client, "住建局", case_no, seq)
        assert (await act(client, step_id, PEOPLE["住建局"][seq - 1], GRANT)).status_code == 200
    decision = await open_step(client, "住建局", case_no, 3)

    page = await client.get(f"/workbench/steps/{decision}", headers=auth("zj-boss"))
    assert 'id="licence-fields"' in page.text
    assert 'name="licence_name" value="建设工程企业资质证书"' in page.text  # the catalogue's licence by default

    missing = await act(client, decision, "zj-boss", GRANT)
    assert missing.status_code == 422, missing.text
    assert missing.json()["detail"] == "准予决定须填写证照编号（licence_no）：本事项准予后颁发建设工程企业资质证书"
    early = await client.post(
        f"/api/steps/{decision}/decision", json={**GRANT, "licence_no": "x" * 61}, headers=auth("zj-boss")
    )
    assert early.status_code == 400, early.text  # longer than a licence number: refused naming the field
    assert "licence_no" in early.text

    granted = {**GRANT, "licence_no": "D315052501", "validity": "2031-11-30"}
    answer = await act(client, decision, "zj-boss", granted)
    assert answer.status_code == 200, answer.text
    done = await state(client, case_no, "已办结")
    summaries = [e["summary"] for e in done["timeline"] if e["type"] == "StepDecided.v1"]
    assert "住建局决定：通过（同意），颁发建设工程企业资质证书 D315052501（有效期 2031-11-30）" in summaries

    listed = await eventually(lambda: ready(client, case_no))
    [item] = listed["items"]
    assert (item["result"], item["licence_name"], item["licence_no"], item["validity"]) == (
        "准予",
        "建设工程企业资质证书",
        "D315052501",
        "2031-11-30",
    )
    note = await client.get(f"/desk/delivery/{case_no}", headers=CLERK)
    assert note.status_code == 200
    assert "办件出件单" in note.text
    assert "证照：<strong>建设工程企业资质证书</strong>" in note.text
    assert '<strong id="licence-no">D315052501</strong>' in note.text
    assert "有效期 2031-11-30" in note.text

    delivered = await client.post(f"/api/deliveries/{case_no}", json={"method": "窗口"}, headers=CLERK)
    assert delivered.status_code == 200, delivered.text
    assert "CaseDelivered" in delivered.json()["published"]


async def test_a_bundle_is_delivered_with_every_childs_own_result(hall: InProcessHall) -> None:
    client = hall.client
    case_no = await submit(client, {**APPLICATION, "item_code": BUSINESS, "materials": BUSINESS_FORM})
    # 设立登记 不予许可 at 审核: 刻章、领票、社保 need its 营业执照, so they are closed 不予办理 (一件事的前后置)
    await run_track(client, "市场监管局", case_no, GRANT, refuse_at=2)
    await state(client, case_no, "已办结")

    listed = await eventually(lambda: ready(client, case_no))
    assert listed["result"] == "不予"
    results = {i["item_name"]: i["result"] for i in listed["items"]}
    assert results == {
        "企业设立登记": "不予",
        "公章刻制备案": "终止",
        "新办纳税人涉税事项及发票申领": "终止",
        "企业职工社会保险登记": "终止",
    }
    assert all(i["case_no"].startswith(case_no) and i["case_no"] != case_no for i in listed["items"])
    refused = next(i for i in listed["items"] if i["result"] == "不予")
    assert refused["reason"] == "经营范围含需前置审批的项目，未提交许可文件"

    note = await client.get(f"/desk/delivery/{case_no}", headers=CLERK)
    assert note.status_code == 200
    text = note.text
    assert "办理结果通知书" in text
    for item in listed["items"]:
        assert f'<tr data-item="{item["case_no"]}">' in text
    assert text.count('<td class="result">终止') == 3
    assert text.count("本事项不予办理") == 3
    assert text.count('<td class="result">不予') == 1
    # the refused child gets its own 决定书 wording: 企业设立登记 is a 行政许可 (§38, 复议/诉讼)
    assert f"不予行政许可决定书（企业设立登记，{refused['case_no']}）" in text
    assert "第三十八条第二款" in text
    desk = await client.get("/desk/delivery", headers=CLERK)
    for name, result in results.items():
        assert f"{name}：<strong>{result}</strong>" in desk.text

    delivered = await client.post(f"/api/deliveries/{case_no}", json={"method": "窗口"}, headers=CLERK)
    assert delivered.status_code == 200, delivered.text
    detail = await state(client, case_no, "已出件")
    assert detail["state"] == "已出件"


async def test_the_pick_up_list_is_the_clerks_own_points_and_paginated(hall: InProcessHall) -> None:
    client = hall.client
    cases = [await submit(client) for _ in range(2)]  # 查封登记 at the banner hall: one person, no licence
    for case_no in cases:
        for seq in (1, 2, 3):
            step_id = await open_step_of(client, case_no, seq)
            assert (await act(client, step_id, "zrzy-li", GRANT)).status_code == 200
    for case_no in cases:
        await listed_at_hall(client, case_no)

    town = await all_items(client, "/api/deliveries", auth("clerk-town"))
    assert not {c["case_no"] for c in town} & set(cases)
    town_page = await client.get("/desk/delivery", headers=auth("clerk-town"))
    assert all(case_no not in town_page.text for case_no in cases)
    note = await client.get(f"/desk/delivery/{cases[0]}", headers=auth("clerk-town"))
    assert note.status_code == 403

    first = (await client.get("/api/deliveries", params={"limit": 1}, headers=CLERK)).json()
    cursor = first["next_cursor"]
    second = (await client.get("/api/deliveries", params={"limit": 1, "cursor": cursor}, headers=CLERK)).json()
    assert (len(first["items"]), len(second["items"])) == (1, 1)
    assert first["total"] >= 2
    assert first["items"][0]["case_no"] != second["items"][0]["case_no"]
    everyone = await all_items(client, "/api/deliveries", CLERK)
    assert len(everyone) == first["total"]
    assert [c["case_no"] for c in everyone[:2]] == [first["items"][0]["case_no"], second["items"][0]["case_no"]]
    bad_ones = (
        ({"limit": 0}, 400, "limit"),
        ({"limit": 201}, 400, "limit"),
        ({"cursor": "x"}, 422, "cursor"),  # any string fits the schema: one no answer gave is meaningless
        ({"page": 2}, 400, "参数 page"),
    )
    for params, status, name in bad_ones:
        bad = await client.get("/api/deliveries", params=params, headers=CLERK)
        assert bad.status_code == status, bad.text
        assert bad.json()["detail"].startswith(name), bad.text


async def open_step_of(client: httpx.AsyncClient, case_no: str, seq: int) -> str:
    async def probe() -> str | None:
        found = [
            s
            for s in await inbox_steps(client, "/api/departments/自然资源局/steps", auth("zrzy-li"))
            if s["case_no"] == case_no and s["seq"] == seq
        ]
        return found[0]["step_id"] if found else None

    step_id: str = await eventually(probe)
    return step_id


async def listed_at_hall(client: httpx.AsyncClient, case_no: str) -> dict[str, Any]:
    found: dict[str, Any] = await eventually(lambda: ready(client, case_no))
    return found
