"""预审 for machines and online channels, over HTTP on the real hall (issue 13, item 1): a kiosk submission is not
accepted by the machine (202 待预审 with a number of its own series and what a person will check, no case number, no
clock); the clerks of its point see it in their queue and act on it with the window's rules (受理 with the clerk as
首问负责人, 一次告知, 不予受理 with the notice); the applicant follows it by pre-review number and ID; an item whose
办理形式 lack the channel is refused there; a kiosk never sends ``refusal_reason``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from services.intake.rebuild import IntakeFold
from shared import topics
from shared.catalogue import load_catalogue
from shared.pii import for_settings
from shared.rebuild import Memory, decoded, read_topics
from tests.integration.conftest import InProcessHall
from tests.journeys import APPLICATION, KIOSK, auth
from tests.support import eventually

pytestmark = pytest.mark.integration

GAS = "11150525000120002"  # 用气报装: 窗口, 网办, 掌上; M01, M02 required
MARRIAGE = "11150525000140004"  # 结婚登记: 窗口 only
ID_NUMBER = "150525199001011237"
CLERK, TOWN = auth("clerk-zhang"), auth("clerk-town")  # kiosk-01 stands in the banner hall


def application(item: str = GAS, materials: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    applicant = {**APPLICATION["applicant"], "id_number": ID_NUMBER}
    body = {"item_code": item, "applicant": applicant, "materials": materials or ["M01", "M02"], **extra}
    body.pop("channel", None)
    return body


async def presubmit(client: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    answer = await client.post("/api/cases", json=application(**extra), headers=KIOSK)
    assert answer.status_code == 202, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def queued(client: httpx.AsyncClient, number: str, headers: dict[str, str]) -> dict[str, Any] | None:
    """The submission on the first page of the clerk's 预审 queue, or None."""
    answer = await client.get("/api/prereviews", headers=headers)
    assert answer.status_code == 200, answer.text
    found = [p for p in answer.json()["items"] if p["prereview_no"] == number]
    return found[0] if found else None


async def in_queue(client: httpx.AsyncClient, number: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        return await queued(client, number, CLERK)

    found: dict[str, Any] = await eventually(probe)
    return found


async def test_a_kiosk_submission_waits_for_a_clerk_who_accepts_it_and_owns_it(hall: InProcessHall) -> None:
    client = hall.client
    body = await presubmit(client)
    number = body["prereview_no"]
    assert body["outcome"] == "待预审"
    assert "YS" in number, number
    assert number.startswith("150525"), number
    assert "case_no" not in body
    assert any("不动产权证书" in c for c in body["checks"]), body["checks"]
    assert any("申请人身份" in c for c in body["checks"]), body["checks"]

    seen = await in_queue(client, number)  # the gateway's read model follows intake.events
    # Nothing is accepted yet: no clock is asked of timing for it.
    settings = hall.settings
    timed = await read_topics(settings.kafka_bootstrap_servers, settings.namespace, [topics.TIMING_EVENTS])
    assert not [e.type for _, e in decoded(timed) if e.case_id == body["case_id"]]
    # The applicant follows it by pre-review number and ID number, with or without the kiosk's token.
    for headers in ({}, KIOSK):
        lookup = await client.get("/api/lookup", params={"case_no": number, "id_number": ID_NUMBER}, headers=headers)
        assert lookup.status_code == 200, lookup.text
        assert (lookup.json()["state"], lookup.json()["prereview_no"]) == ("待预审", number)
        assert lookup.json()["checks"] == body["checks"]
    wrong = await client.get("/api/lookup", params={"case_no": number, "id_number": "11010519491231002X"})
    assert wrong.status_code == 404, wrong.text

    assert (seen["item_name"], seen["channel"], seen["status"]) == ("用气报装", "kiosk", "待预审")
    assert ID_NUMBER not in str(seen), "the queue shows the ID number masked"
    # Not another point's clerk: not in the town's queue, not readable, not actionable.
    assert await queued(client, number, TOWN) is None
    assert (await client.get(f"/api/prereviews/{number}", headers=TOWN)).status_code == 403
    town_act = await client.post(f"/api/prereviews/{number}/decision", json={"action": "受理"}, headers=TOWN)
    assert town_act.status_code == 403, town_act.text
    # Machines and back offices do not pre-review.
    assert (await client.get("/api/prereviews", headers=KIOSK)).status_code == 403
    assert (
        await client.post(f"/api/prereviews/{number}/decision", json={"action": "受理"}, headers=KIOSK)
    ).status_code == 403

    accepted = await client.post(f"/api/prereviews/{number}/decision", json={"action": "受理"}, headers=CLERK)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["outcome"] == "受理"
    case_no = accepted.json()["case_no"]
    assert case_no.startswith("150525")
    assert "YS" not in case_no

    async def dossier() -> dict[str, Any] | None:
        answer = await client.get(f"/api/cases/{case_no}", headers=CLERK)
        return answer.json()["dossier"] if answer.status_code == 200 and answer.json()["dossier"] else None

    facts = await eventually(dossier)
    assert (facts["owner"], facts["owner_name"], facts["channel"]) == ("clerk-zhang", "张敏", "kiosk")
    # The acceptance's actor is the clerk, not the machine.
    records = await read_topics(settings.kafka_bootstrap_servers, settings.namespace, [topics.INTAKE_EVENTS])
    acceptances = [
        envelope
        for _, envelope in decoded(records)
        if envelope.type == "CaseAccepted.v1" and case_no in bytes(envelope.payload).decode()
    ]
    assert [e.actor.id for e in acceptances] == ["clerk-zhang"]

    again = await client.post(f"/api/prereviews/{number}/decision", json={"action": "受理"}, headers=CLERK)
    assert again.status_code == 409, again.text
    assert case_no in again.json()["detail"]

    async def left() -> bool | None:
        return True if await queued(client, number, CLERK) is None else None

    await eventually(left)

    # The pre-review number now leads to the case's progress.
    async def case_lookup() -> dict[str, Any] | None:
        answer = await client.get("/api/lookup", params={"case_no": number, "id_number": ID_NUMBER})
        return answer.json() if answer.status_code == 200 and answer.json()["case_no"] == case_no else None

    progress = await eventually(case_lookup)
    assert progress["outcome"] == "受理"


async def test_a_clerk_notifies_what_is_missing_from_the_queue(hall: InProcessHall) -> None:
    client = hall.client
    number = (await presubmit(client))["prereview_no"]
    await in_queue(client, number)
    wrong = await client.post(f"/api/prereviews/{number}/decision", json={"action": "一次告知"}, headers=CLERK)
    assert wrong.status_code == 422, wrong.text
    assert "missing" in wrong.json()["detail"]

    told = await client.post(
        f"/api/prereviews/{number}/decision",
        json={"action": "一次告知", "missing": ["M02"], "reason": "不动产权证书复印件不清晰"},
        headers=CLERK,
    )
    assert told.status_code == 200, told.text
    assert told.json()["outcome"] == "待补正"
    assert [(m["code"], m["reason"]) for m in told.json()["missing"]] == [("M02", "不动产权证书复印件不清晰")]
    assert "YC" in told.json()["notice_no"]  # the numbered 一次性告知书, issued by the clerk

    async def reprinted() -> str | None:
        page = await client.get(f"/desk/notices/{told.json()['notice_no']}", headers=CLERK)
        return page.text if page.status_code == 200 else None

    assert "复印件不清晰" in await eventually(reprinted)
    assert "case_no" not in told.json() or not told.json()["case_no"]

    async def looked_up() -> dict[str, Any] | None:
        answer = await client.get("/api/lookup", params={"case_no": number, "id_number": ID_NUMBER})
        return answer.json() if answer.status_code == 200 and answer.json()["state"] == "待补正" else None

    progress = await eventually(looked_up)
    assert "不动产权证书" in progress["reason"]


async def test_a_clerk_refuses_from_the_queue_with_the_notice(hall: InProcessHall) -> None:
    client = hall.client
    number = (await presubmit(client))["prereview_no"]
    await in_queue(client, number)
    bare = await client.post(f"/api/prereviews/{number}/decision", json={"action": "不予受理"}, headers=CLERK)
    assert bare.status_code == 422, bare.text
    assert "理由" in bare.json()["detail"]

    refused = await client.post(
        f"/api/prereviews/{number}/decision",
        json={"action": "不予受理", "reason": "申请地址不在本旗供气范围"},
        headers=CLERK,
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["outcome"] == "不予受理"
    case_no = refused.json()["case_no"]
    assert "申请地址不在本旗供气范围" in refused.json()["reason"]

    async def notice() -> str | None:
        page = await client.get(f"/desk/cases/{case_no}/document", headers=CLERK)
        return page.text if page.status_code == 200 else None

    assert "不予受理" in await eventually(notice)


async def test_the_queue_pages_and_its_page_renders(hall: InProcessHall) -> None:
    client = hall.client
    number = (await presubmit(client))["prereview_no"]
    await in_queue(client, number)
    first = (await client.get("/api/prereviews", headers=CLERK)).json()
    assert first["page"] == 1
    assert first["total"] >= 1
    assert len(first["items"]) <= 20
    beyond = (await client.get("/api/prereviews", params={"page": 999}, headers=CLERK)).json()
    assert beyond["page"] == beyond["pages"]
    page = await client.get("/desk/prereviews", headers=CLERK)
    assert page.status_code == 200, page.text
    assert "预审" in page.text


async def test_an_item_is_refused_at_a_channel_its_forms_lack(hall: InProcessHall) -> None:
    answer = await hall.client.post("/api/cases", json=application(MARRIAGE), headers=KIOSK)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == "结婚登记仅限窗口办理"
    at_window = await hall.client.post("/api/cases", json=application(MARRIAGE), headers=CLERK)
    assert at_window.status_code in (200, 201), at_window.text


async def test_a_kiosk_may_not_send_a_refusal_reason(hall: InProcessHall) -> None:
    answer = await hall.client.post("/api/cases", json=application(refusal_reason="不符合受理条件"), headers=KIOSK)
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"].startswith("refusal_reason")
    assert "case_no" not in answer.json()
    assert "prereview_no" not in answer.json()


async def test_a_rebuilt_intake_keeps_its_pre_reviews_and_their_numbering(hall: InProcessHall) -> None:
    """``./hall rebuild intake`` folds the pre-reviews from intake.events: the records (a pending one still
    actionable, an accepted one 409) and the daily sequence (no number is given twice)."""
    client = hall.client
    waiting = (await presubmit(client))["prereview_no"]
    done = (await presubmit(client))["prereview_no"]
    await in_queue(client, done)
    accepted = await client.post(f"/api/prereviews/{done}/decision", json={"action": "受理"}, headers=CLERK)
    assert accepted.status_code == 201, accepted.text
    settings = hall.settings

    async def folded() -> Memory | None:
        records = await read_topics(settings.kafka_bootstrap_servers, settings.namespace, [topics.INTAKE_EVENTS])
        fold = IntakeFold(settings, load_catalogue(), for_settings(settings))
        for _, envelope in decoded(records):
            fold.apply(envelope)
        memory = Memory()
        fold.into(memory)
        key = settings.key("intake", "prereview", done)
        return memory if key in memory.strings and '"status":"受理"'.encode() in memory.strings[key] else None

    memory = await eventually(folded)
    redis = Redis.from_url(settings.redis_url)
    try:
        live = await redis.get(settings.key("intake", "prereview", waiting))
        assert memory.strings[settings.key("intake", "prereview", waiting)] == live
        assert '"status":"待预审"'.encode() in live
        day = waiting[len(settings.region_code) : len(settings.region_code) + 8]
        sequence = memory.strings[settings.key("intake", "seq-prereview", day)]
        assert sequence == await redis.get(settings.key("intake", "seq-prereview", day))
    finally:
        await redis.aclose()
