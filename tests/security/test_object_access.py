"""The probes of issue 11's "object-level authorization only on pages", each as a test over HTTP on the real
Kafka and Redis: a village clerk and a county-hall case, a colleague pausing a claimed step, a kiosk issuing a
不予受理 notice, a clerk choosing the channel, unauthenticated case reads, a pad reading the raters' ID numbers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.halls import InProcessHall
from tests.journeys import APPLICATION, CLERK, KIOSK, STAFF, _next_step, all_items, auth, open_step, state, submit
from tests.support import eventually

pytestmark = pytest.mark.integration

VILLAGE = auth("clerk-village")
ID_NUMBER: str = APPLICATION["applicant"]["id_number"]
PHONE = "13912345678"
ADDRESS = "内蒙古自治区通辽市奈曼旗大沁他拉镇团结路88号"


def application(**extra: Any) -> dict[str, Any]:
    body = {k: v for k, v in APPLICATION.items() if k != "channel"}
    return {**body, **extra}


async def dossier(hall: InProcessHall, case_no: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        answer = await hall.client.get(f"/api/cases/{case_no}", headers=CLERK)
        found: dict[str, Any] | None = answer.json().get("dossier") if answer.status_code == 200 else None
        return found

    return await eventually(probe)


async def test_a_village_clerk_neither_reads_nor_delivers_nor_supplements_a_county_hall_case(
    hall: InProcessHall,
) -> None:
    client = hall.client
    case_no = await submit(client)  # accepted at the banner hall by clerk-zhang
    await dossier(hall, case_no)
    read = await client.get(f"/api/cases/{case_no}", headers=VILLAGE)
    assert read.status_code == 403, read.text
    assert "奈曼旗政务服务中心受理" in read.json()["detail"]
    delivered = await client.post(
        f"/api/deliveries/{case_no}", json={"method": "邮寄", "address": ADDRESS}, headers=VILLAGE
    )
    assert delivered.status_code == 403, delivered.text
    supplemented = await client.post(f"/api/cases/{case_no}/materials", json={"materials": ["M01"]}, headers=VILLAGE)
    assert supplemented.status_code == 403, supplemented.text
    link = await client.post(f"/api/cases/{case_no}/rating-links", json={"channel": "短信"}, headers=VILLAGE)
    assert link.status_code == 403, link.text
    ratings = await client.get(f"/api/cases/{case_no}/ratings", headers=VILLAGE)
    assert ratings.status_code == 403, ratings.text
    assert (await client.get(f"/desk/cases/{case_no}", headers=VILLAGE)).status_code == 403
    # Its own case it reads, and the banner hall reads every case of the county.
    own = await client.post("/api/cases", json=application(), headers=VILLAGE)
    assert own.status_code == 201, own.text
    village_case = own.json()["case_no"]
    await dossier(hall, village_case)
    assert (await client.get(f"/api/cases/{village_case}", headers=VILLAGE)).status_code == 200
    assert (await client.get(f"/api/cases/{village_case}", headers=CLERK)).status_code == 200
    assert (await client.get(f"/api/cases/{village_case}", headers=auth("clerk-town"))).status_code == 403
    # Nothing happened to the hall's case: no delivery on its timeline.
    timeline = (await client.get(f"/api/cases/{case_no}", headers=CLERK)).json()["timeline"]
    assert not [e for e in timeline if e["type"] in ("CaseDelivered.v1", "MaterialsSupplemented.v1")]


async def test_the_ready_list_shows_a_village_clerk_only_its_own_cases(hall: InProcessHall) -> None:
    client = hall.client
    at_hall = await submit(client)
    own = await client.post("/api/cases", json=application(), headers=VILLAGE)
    assert own.status_code == 201, own.text
    at_village = own.json()["case_no"]
    for case_no in (at_hall, at_village):
        await approve(hall, case_no)

    async def listed(headers: dict[str, str]) -> set[str]:
        return {c["case_no"] for c in await all_items(client, "/api/deliveries", headers)}

    async def both_ready() -> bool | None:
        return {at_hall, at_village} <= await listed(CLERK) or None

    await eventually(both_ready)
    village_sees = await listed(VILLAGE)
    assert at_village in village_sees
    assert at_hall not in village_sees
    # The village clerk hands out its own case by post; the hall's stays where it is.
    delivered = await client.post(
        f"/api/deliveries/{at_village}", json={"method": "邮寄", "address": ADDRESS}, headers=VILLAGE
    )
    assert delivered.status_code in (200, 202), delivered.text
    refused = await client.post(f"/api/deliveries/{at_hall}", json={"method": "窗口"}, headers=VILLAGE)
    assert refused.status_code == 403, refused.text


async def approve(hall: InProcessHall, case_no: str, done: set[str] | None = None) -> None:
    """承办 → 审核 → 决定 by 自然资源局 (steps in ``done`` are decided already), until the case is 已办结."""
    done = set() if done is None else done
    while len(done) < 3:
        step_id = await _next_step(hall.client, case_no, 0.1, done)
        decision = {"action": "通过", "opinion": "同意"}
        decided = await hall.client.post(f"/api/steps/{step_id}/decision", json=decision, headers=STAFF)
        assert decided.status_code in (200, 202), decided.text
        done.add(step_id)
    await state(hall.client, case_no, "已办结")


async def test_a_colleague_cannot_pause_a_step_claimed_by_another_but_the_claimant_and_supervisor_can(
    hall: InProcessHall,
) -> None:
    client = hall.client
    # 建设工程规划许可证核发 (自然资源局) allows 专家评审; a kind the item does not list is refused (test_legal_acts).
    case_no = await submit(client, {**APPLICATION, "item_code": "11150525000118011"})
    step_id = await open_step(client, case_no)
    # Unclaimed: nobody but the supervisor starts a special procedure.
    unclaimed = await client.post(
        f"/api/steps/{step_id}/special-procedure", json={"kind": "专家评审", "reason": "需专家评审"}, headers=STAFF
    )
    assert unclaimed.status_code == 403, unclaimed.text
    claimed = await client.post(f"/api/steps/{step_id}/claim", headers=STAFF)
    assert claimed.status_code == 200, claimed.text
    body = {"kind": "专家评审", "reason": "需专家评审"}
    for colleague in ("zrzy-sun", "zj-zhao", "zj-boss"):
        paused = await client.post(f"/api/steps/{step_id}/special-procedure", json=body, headers=auth(colleague))
        assert paused.status_code == 403, (colleague, paused.text)
    extension = {"extension": {"value": 2, "unit": "WD"}, "reason": "需现场核查"}
    asked = await client.post(f"/api/steps/{step_id}/extension", json=extension, headers=auth("zrzy-sun"))
    assert asked.status_code == 403, asked.text
    assert "李强认领" in asked.json()["detail"]
    detail = (await client.get(f"/api/steps/{step_id}", headers=STAFF)).json()["step"]
    assert (detail["special"], detail["extension"]) == ("", None)
    # The claimant pauses and resumes it; the supervisor may too.
    started = await client.post(f"/api/steps/{step_id}/special-procedure", json=body, headers=STAFF)
    assert started.status_code == 200, started.text
    ended = await client.post(
        f"/api/steps/{step_id}/special-procedure/end", json={"result": "专家评审完成"}, headers=auth("zrzy-boss")
    )
    assert ended.status_code == 200, ended.text


async def test_a_kiosk_cannot_issue_a_refusal_notice(hall: InProcessHall) -> None:
    refused = await hall.client.post("/api/cases", json=application(refusal_reason="不符合受理条件"), headers=KIOSK)
    assert refused.status_code == 400, refused.text  # a field a machine may not send (issue 13: 预审)
    assert refused.json()["detail"].startswith("refusal_reason")
    assert "不予受理" in refused.json()["detail"]
    assert "case_no" not in refused.json()
    by_clerk = await hall.client.post("/api/cases", json=application(refusal_reason="不符合受理条件"), headers=CLERK)
    assert (by_clerk.status_code, by_clerk.json()["outcome"]) == (422, "不予受理")


@pytest.mark.parametrize(
    ("who", "channel"),
    [("clerk-zhang", "web"), ("clerk-zhang", "kiosk"), ("kiosk-01", "window"), ("kiosk-01", "mobile")],
)
async def test_the_channel_is_the_callers_not_the_bodys(hall: InProcessHall, who: str, channel: str) -> None:
    answer = await hall.client.post("/api/cases", json=application(channel=channel), headers=auth(who))
    assert answer.status_code == 422, answer.text
    assert "受理渠道取自登录用户" in answer.json()["detail"]


async def test_a_submission_takes_its_channel_from_the_caller(hall: InProcessHall) -> None:
    by_clerk = await hall.client.post("/api/cases", json=application(), headers=CLERK)
    # A kiosk only submits for 预审 (用气报装: its 办理形式 include 网办; 查封登记 is 窗口 only).
    gas = application(channel="kiosk", item_code="11150525000120002")
    by_kiosk = await hall.client.post("/api/cases", json=gas, headers=KIOSK)
    assert by_clerk.status_code == 201, by_clerk.text
    assert by_kiosk.status_code == 202, by_kiosk.text
    assert (await dossier(hall, by_clerk.json()["case_no"]))["channel"] == "window"
    number = by_kiosk.json()["prereview_no"]

    async def prereview() -> dict[str, Any] | None:
        answer = await hall.client.get(f"/api/prereviews/{number}", headers=CLERK)
        return answer.json() if answer.status_code == 200 else None

    assert (await eventually(prereview))["channel"] == "kiosk"
    accepted = await hall.client.post(f"/api/prereviews/{number}/decision", json={"action": "受理"}, headers=CLERK)
    assert accepted.status_code == 201, accepted.text
    assert (await dossier(hall, accepted.json()["case_no"]))["channel"] == "kiosk"


async def test_nobody_signed_in_reads_no_case_and_the_public_answer_shows_progress_only(hall: InProcessHall) -> None:
    client = hall.client
    applicant = {**APPLICATION["applicant"], "phone": PHONE}
    submitted = await client.post("/api/cases", json=application(applicant=applicant), headers=CLERK)
    assert submitted.status_code == 201, submitted.text
    case_no = submitted.json()["case_no"]
    step_id = await open_step(client, case_no)
    assert (await client.post(f"/api/steps/{step_id}/claim", headers=STAFF)).status_code == 200
    done = {step_id}
    decided = await client.post(
        f"/api/steps/{step_id}/decision", json={"action": "通过", "opinion": "同意"}, headers=STAFF
    )
    assert decided.status_code == 200, decided.text
    await approve(hall, case_no, done)
    posted = await client.post(f"/api/deliveries/{case_no}", json={"method": "邮寄", "address": ADDRESS}, headers=CLERK)
    assert posted.status_code in (200, 202), posted.text
    await state(client, case_no, "已出件")

    anonymous = await client.get(f"/api/cases/{case_no}")
    assert anonymous.status_code == 401, anonymous.text
    for secret in (ADDRESS, PHONE, "李强", "张敏", ID_NUMBER):
        assert secret not in anonymous.text
    # Another department's staff and a kiosk are refused too.
    assert (await client.get(f"/api/cases/{case_no}", headers=auth("zj-zhao"))).status_code == 403
    assert (await client.get(f"/api/cases/{case_no}", headers=KIOSK)).status_code == 403
    # The kiosk's lookup by number and ID: progress, and no address, phone or staff names.
    lookup = await client.get("/api/lookup", params={"case_no": case_no, "id_number": ID_NUMBER}, headers=KIOSK)
    assert lookup.status_code == 200, lookup.text
    assert lookup.json()["state"] == "已出件"
    assert any(s["summary"] == "统一窗口出件（邮寄）" for s in lookup.json()["steps"])
    assert any(s["summary"].endswith("环节已认领") for s in lookup.json()["steps"])
    for secret in (ADDRESS[6:], PHONE, "李强", "张敏", ID_NUMBER):
        assert secret not in lookup.text, secret
    wrong = await client.get(
        "/api/lookup", params={"case_no": case_no, "id_number": "150525199001011253"}, headers=KIOSK
    )
    assert wrong.status_code == 404
    # Without a token: the public's one way to a case (access.PUBLIC), the same progress and nothing more.
    public = await client.get("/api/lookup", params={"case_no": case_no, "id_number": ID_NUMBER})
    assert public.status_code == 200, public.text
    assert public.json()["state"] == "已出件"
    for secret in (ADDRESS[6:], PHONE, "李强", "张敏", ID_NUMBER):
        assert secret not in public.text, secret


async def test_a_pad_does_not_read_a_cases_ratings(hall: InProcessHall) -> None:
    client = hall.client
    case_no = await submit(client)
    await dossier(hall, case_no)
    rated = await client.post(
        f"/api/cases/{case_no}/ratings",
        json={"level": "满意", "channel": "自助终端", "stage": "受理", "applicant_id_tail": ID_NUMBER[-6:]},
        headers=KIOSK,
    )
    assert rated.status_code == 201, rated.text
    pad = await client.get(f"/api/cases/{case_no}/ratings", headers=auth("pad-01"))
    assert pad.status_code == 403, pad.text
    assert ID_NUMBER not in pad.text
    assert (await client.get(f"/api/cases/{case_no}/ratings", headers=KIOSK)).status_code == 403
    assert (await client.get(f"/api/cases/{case_no}/ratings")).status_code == 401
    # What a pad needs it still has: the service its window just gave.
    assert (await client.get("/api/pad/current", headers=auth("pad-01"))).status_code == 200
    # A kiosk rates only with the applicant's ID digits.
    no_id = await client.post(
        f"/api/cases/{case_no}/ratings", json={"level": "满意", "channel": "自助终端", "stage": "受理"}, headers=KIOSK
    )
    assert no_id.status_code == 403, no_id.text
