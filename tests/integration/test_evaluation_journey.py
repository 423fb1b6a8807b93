"""A case from the window to a bad review, its correction, the return visit and the rater's rating of the
correction: the whole hall in this process, over HTTP, on the real Kafka and Redis (timing answers the clocks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from shared.calendar import WorkingCalendar
from tests.halls import InProcessHall
from tests.journeys import APPLICATION, CLERK, KIOSK, KIOSK_PROOF, auth, finish_journey, submit
from tests.support import eventually

pytestmark = pytest.mark.integration

STAFF = auth("zrzy-li")
SUPERVISOR = auth("zrzy-boss")
OPERATOR = auth("op-qian")
OTHER_DEPARTMENT = auth("zj-zhao")


async def followup_where(hall: InProcessHall, followup_id: str, ready: Any) -> dict[str, Any]:
    """The desk's view of a follow-up once ``ready(followup)`` holds."""

    async def probe() -> dict[str, Any] | None:
        answer = await hall.client.get(f"/api/ratings/followups/{followup_id}", headers=STAFF)
        if answer.status_code != 200:
            return None
        body: dict[str, Any] = answer.json()
        return body if ready(body["followup"]) else None

    return await eventually(probe)


async def test_a_bad_review_is_corrected_visited_and_its_correction_rated(hall: InProcessHall) -> None:
    client = hall.client
    case_no = await submit(client)
    await finish_journey(client, case_no)  # approved, delivered and rated 非常满意 at the kiosk
    twice = await client.post(
        f"/api/cases/{case_no}/ratings", json={"level": "满意", "channel": "自助终端", **KIOSK_PROOF}, headers=KIOSK
    )
    assert twice.status_code == 409
    assert "不能重复评价" in twice.json()["detail"]

    # A week later the applicant adds a 追评 through the SMS link the window sent: 不满意.
    link = await client.post(
        f"/api/cases/{case_no}/rating-links",
        json={"stage": "办结", "channel": "短信", "purpose": "追评"},
        headers=CLERK,
    )
    assert link.status_code == 201, link.text
    assert link.json()["url"].endswith(f"/rate/{link.json()['token']}")
    qr = link.json()["qr_svg"]
    assert qr.startswith("<svg")
    assert "<title>扫码评价</title>" in qr
    assert "<path" in qr
    page = await client.get(f"/rate/{link.json()['token']}")
    assert page.status_code == 200
    assert case_no in page.text
    rated = await client.post(f"/api/rate/{link.json()['token']}", json={"level": "不满意", "text": "证书上姓名有误"})
    assert rated.status_code == 201, rated.text
    followup_id = rated.json()["followup_id"]
    assert followup_id

    # The follow-up opens at the desk with its correction deadline: 15 working days, from timing's calendar.
    opened = await followup_where(hall, followup_id, lambda f: f["deadline"] is not None)
    start = datetime.fromisoformat(opened["followup"]["opened_at"])
    assert datetime.fromisoformat(opened["followup"]["deadline"]) == WorkingCalendar().deadline(start, 15, "WD")
    assert opened["followup"]["status"] == "待核实"
    foreign = await client.get(f"/api/ratings/followups/{followup_id}", headers=OTHER_DEPARTMENT)
    assert foreign.status_code == 403

    base = f"/api/ratings/followups/{followup_id}"
    verified = await client.post(
        f"{base}/verification", json={"outcome": "整改", "reply": "已核实，将为您更正证书"}, headers=STAFF
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "整改中"
    # 整改完成 first; the real-name rater's 回访 follows within its deadline (data/evaluation.toml: 1 WD).
    closing = {"outcome": "整改完成", "explanation": "证书已更正并重新送达"}
    closed = await client.post(f"{base}/closing", json=closing, headers=STAFF)
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "整改完成"
    visit = await client.post(
        f"{base}/return-visit", json={"method": "电话", "note": "已致电说明更正情况"}, headers=STAFF
    )
    assert visit.status_code == 200, visit.text

    # The rater rates the correction through a link of its own; the link works once.
    correction = await client.post(f"{base}/correction-link", json={"channel": "短信"}, headers=STAFF)
    assert correction.status_code == 201, correction.text
    token = correction.json()["token"]
    assert "请评价差评整改结果" in (await client.get(f"/rate/{token}")).text
    satisfied = await client.post(f"/api/rate/{token}", json={"level": "满意"})
    assert satisfied.status_code == 201, satisfied.text
    assert satisfied.json()["correction_level"] == "满意"
    again = await client.post(f"/api/rate/{token}", json={"level": "非常满意"})
    assert (again.status_code, again.json()["detail"]) == (409, "该评价码已使用过，不能重复评价")

    done = await followup_where(hall, followup_id, lambda f: f["correction_level"] == "满意")
    changes = [c["change"] for c in done["history"]]
    assert changes[0] == "收到差评（不满意），待核实"
    assert "电话回访：已致电说明更正情况" in changes
    assert changes[-1] == "评价人评价整改结果：满意"

    # The timeline tells the story; the statistics count it; the public page shows it masked.
    timeline = (await client.get(f"/api/cases/{case_no}", headers=CLERK)).json()["timeline"]
    summaries = [e["summary"] for e in timeline]
    assert "追评（办结）：不满意（短信）" in summaries
    assert "差评整改：整改完成：证书已更正并重新送达；待回访" in summaries
    assert any(s.startswith("评价期开始，") for s in summaries)  # timing's answer to the rating window's request
    assert any(s.startswith("差评整改计时，整改期限 ") for s in summaries)
    stats = await client.get(
        "/api/ratings/stats", params={"by": "department", "department": "自然资源局"}, headers=SUPERVISOR
    )
    assert stats.status_code == 200, stats.text
    (group,) = stats.json()["groups"]
    assert group["bad_reviews"] >= 1
    assert group["visited_corrected"] >= 1
    page = await client.get("/ratings/stats", params={"by": "clerk"}, headers=SUPERVISOR)
    assert page.status_code == 200
    assert "回访整改满意率" in page.text
    assert "李强" in page.text  # clerks by name: the 办结 rating is the deciding handler's (zrzy-li), 谁办理谁负责
    public = await client.get("/public/ratings")
    assert public.status_code == 200
    assert "赵**" in public.text
    assert "证书已更正并重新送达" in public.text
    assert APPLICATION["applicant"]["name"] not in public.text
    assert APPLICATION["applicant"]["id_number"] not in public.text


async def test_refusals_over_http_say_why(hall: InProcessHall) -> None:
    client = hall.client
    case_no = await submit(client)

    async def known() -> bool | None:
        return (await client.get(f"/api/cases/{case_no}", headers=CLERK)).status_code == 200 or None

    await eventually(known)
    clerk_rates = await client.post(
        f"/api/cases/{case_no}/ratings", json={"level": "满意", "channel": "自助终端", **KIOSK_PROOF}, headers=CLERK
    )
    assert clerk_rates.status_code == 403
    forged = await client.post("/api/rate/not-a-token", json={"level": "满意"})
    assert (forged.status_code, forged.json()["detail"]) == (403, "评价码无效：内容无法识别")
    unknown_level = await client.post(
        f"/api/cases/{case_no}/ratings", json={"level": "还行", "channel": "自助终端", **KIOSK_PROOF}, headers=KIOSK
    )
    assert unknown_level.status_code == 400
    by_code = await client.post(
        f"/api/cases/{case_no}/ratings",
        json={"code": 9, "code_table": "评价接口", "channel": "自助终端", "stage": "受理", **KIOSK_PROOF},
        headers=KIOSK,
    )
    assert (by_code.status_code, by_code.json()["detail"]) == (422, "评价接口 评价代码 9 无效，应为 1–5")
    anyone = await client.get("/api/ratings/stats")
    assert anyone.status_code == 401
    staff_stats = await client.get("/api/ratings/stats", headers=STAFF)
    assert staff_stats.status_code == 403
    assert (await client.get("/api/ratings/stats", headers=OPERATOR)).status_code == 200
