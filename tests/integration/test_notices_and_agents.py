"""一次告知 and 代理人 over HTTP on the real hall (issue 13, items 4 and 5).

A 待补正 answer is a document: it gets a number of its own series in the case-number scheme, is kept by intake (its
record and ``OneTimeNoticeIssued`` on intake.events) and by the gateway, is reprinted from 我的办件 with the whole
missing list and the reasons, and counts as 一次告知数 in the window's statistics. An application may name an agent:
the 授权委托书 becomes required (the item's own line, or WTS added), the agent's ID is checked like the applicant's
(422 naming the field), the receipt names applicant and agent (the agent's ID masked), the public lookup takes
either ID number, and no Redis value holds the agent's number in clear.

A hall of its own (a fresh namespace): the counts start from nothing and every Redis key it wrote can be scanned.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from redis.asyncio import Redis
from stdnum.cn import ric

from shared import topics
from shared.rebuild import decoded, read_topics
from shared.settings import HallSettings
from tests.halls import InProcessHall, fresh_settings, in_process_hall
from tests.journeys import APPLICATION, CLERK, auth, sign_in_again
from tests.security.test_pii_scan import namespace_values
from tests.support import eventually

pytestmark = pytest.mark.integration

SEAL = "11150525000118001"  # 查封登记 (M01, M02): no 委托书 of its own → WTS is added for an agent
GAS = "11150525000120002"  # 用气报装 (M01, M02, M03 授权委托书 optional) → M03 becomes required for an agent
AGENT_ID = "15052519880808351" + ric.calc_check_digit("15052519880808351" + "0")
BAD_AGENT_ID = AGENT_ID[:17] + ("0" if AGENT_ID[17] != "0" else "1")
AGENT = {"name": "钱代理", "id_type": "居民身份证", "id_number": AGENT_ID, "relation": "配偶"}


@pytest.fixture(scope="module")
async def own_hall(settings: HallSettings) -> AsyncIterator[InProcessHall]:
    async with in_process_hall(await fresh_settings(settings)) as running:
        yield running


def application(item: str, materials: list[str], **extra: Any) -> dict[str, Any]:
    return {**APPLICATION, "item_code": item, "materials": materials, **extra}


async def counts(client: httpx.AsyncClient, path: str = "/desk/cases", who: dict[str, str] = CLERK) -> dict[str, int]:
    """Today's row of 受理统计 on 我的办件 (the banner hall's clerk: the county's counts) or the SLA board."""
    page = await client.get(path, headers=who)
    assert page.status_code == 200, page.text
    row = re.search(r'<tr data-period="今日">(.*?)</tr>', page.text, re.S)
    assert row is not None, page.text
    cells = dict(re.findall(r'data-count="(\w+)">(\d+)<', row.group(1)))
    return {kind: int(value) for kind, value in cells.items()}


async def page_when_ready(client: httpx.AsyncClient, path: str) -> str:
    async def probe() -> str | None:
        page = await client.get(path, headers=CLERK)
        return page.text if page.status_code == 200 else None

    text: str = await eventually(probe)
    return text


async def published(settings: HallSettings, kind: str, field: str, value: str) -> dict[str, Any] | None:
    """The ``kind`` event on intake.events whose ``field`` is ``value``, once it is there."""
    records = await read_topics(settings.kafka_bootstrap_servers, settings.namespace, [topics.INTAKE_EVENTS])
    payloads = [msgspec.json.decode(env.payload) for _, env in decoded(records) if env.type == f"{kind}.v1"]
    found: list[dict[str, Any]] = [p for p in payloads if p.get(field) == value]
    return found[0] if found else None


async def test_a_one_time_notice_is_numbered_kept_reprinted_and_counted(own_hall: InProcessHall) -> None:
    client, settings = own_hall.client, own_hall.settings
    before = await counts(client)

    answers = []
    for materials in (["M01"], []):
        response = await client.post("/api/cases", json=application(GAS, materials), headers=CLERK)
        assert response.status_code == 200, response.text
        answers.append(response.json())
    first, second = answers
    # A retried request (same Idempotency-Key) gets the first answer: the same notice, not a second one.
    key = {"Idempotency-Key": f"notice-{uuid.uuid4().hex}"}
    keyed = [
        await client.post("/api/cases", json=application(GAS, ["M02"]), headers={**CLERK, **key}) for _ in range(2)
    ]
    assert [r.status_code for r in keyed] == [200, 200], keyed[0].text
    assert keyed[0].json()["notice_no"] == keyed[1].json()["notice_no"]
    assert first["outcome"] == "待补正"
    assert [m["code"] for m in first["missing"]] == ["M02"]
    assert [m["code"] for m in second["missing"]] == ["M01", "M02"]
    series = re.compile(rf"{settings.region_code}(\d{{8}})YC(\d{{6}})")
    numbers = [series.fullmatch(a["notice_no"]) for a in answers]
    assert all(numbers), answers
    assert numbers[0]
    assert numbers[1]
    assert int(numbers[1].group(2)) == int(numbers[0].group(2)) + 1
    assert not first.get("case_no"), "一次告知 numbers a notice, not a case"

    # Kept by intake: its record and the event, with the list and the reasons.
    redis: Any = Redis.from_url(settings.redis_url)
    try:
        raw = await redis.get(settings.key("intake", "notice", first["notice_no"]))
    finally:
        await redis.aclose()
    assert raw is not None
    assert [m["code"] for m in msgspec.json.decode(raw)["missing"]] == ["M02"]
    issued = await eventually(lambda: published(settings, "OneTimeNoticeIssued", "notice_no", second["notice_no"]))
    assert issued["missing"] == second["missing"]
    assert issued["applicant_id_number"].startswith("enc:v1:")

    # Reprinted from 我的办件: the same number, every missing material and its reason.
    page = await page_when_ready(client, f"/desk/notices/{second['notice_no']}")
    assert "一次性告知书" in page
    assert second["notice_no"] in page
    for missing in second["missing"]:
        assert f"{missing['name']}（{missing['code']}）" in page
        assert missing["reason"] in page
    assert "150525********1237" in page  # the applicant's ID masked
    assert APPLICATION["applicant"]["id_number"] not in page
    mine = await client.get("/desk/cases", headers=CLERK)
    assert f'href="/desk/notices/{first["notice_no"]}"' in mine.text
    assert (await client.get("/desk/notices/15052520261130YC999999", headers=CLERK)).status_code == 404
    # Scoped like the case it would have been: a town centre's clerk does not read the banner hall's notices.
    elsewhere = await client.get(f"/desk/notices/{first['notice_no']}", headers=auth("clerk-town"))
    assert elsewhere.status_code == 403, elsewhere.text
    assert "其他场所" in elsewhere.text

    # 一次告知数 moved by the three notices (the retried one counted once); 受理数 did not.
    after = await eventually(lambda: _moved(client, before, "notices", 3))
    assert after["accepted"] == before["accepted"]
    assert after["refused"] == before["refused"]
    # The operators' SLA board shows the county's counts: the same (the banner hall's clerk sees the county's).
    assert await counts(client, "/sla", auth("op-qian")) == after


async def _moved(client: httpx.AsyncClient, before: dict[str, int], kind: str, by: int) -> dict[str, int] | None:
    now = await counts(client)
    return now if now[kind] == before[kind] + by else None


async def test_an_agent_needs_a_letter_is_on_the_receipt_and_may_look_the_case_up(own_hall: InProcessHall) -> None:
    client, settings = own_hall.client, own_hall.settings
    before = await counts(client)

    # Without the 委托书: 一次告知 naming it (WTS added to an item without one; the item's own line made required).
    for item, materials, letter in ((SEAL, ["M01", "M02"], "WTS"), (GAS, ["M01", "M02"], "M03")):
        response = await client.post("/api/cases", json=application(item, materials, agent=AGENT), headers=CLERK)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["outcome"] == "待补正"
        assert [(m["code"], m["name"]) for m in body["missing"]] == [(letter, "授权委托书")]
        page = await page_when_ready(client, f"/desk/notices/{body['notice_no']}")
        assert "钱代理" in page
        assert "授权委托书（" in page
    # Without an agent the same materials are complete, and WTS is no material of the item.
    unknown = await client.post("/api/cases", json=application(SEAL, ["M01", "M02", "WTS"]), headers=CLERK)
    assert unknown.status_code == 422, unknown.text
    assert "WTS" in unknown.json()["detail"]

    # With it: 受理; the receipt names the applicant (the party) and the agent, the agent's ID masked.
    helped = application(SEAL, ["M01", "M02", "WTS"], agent=AGENT, helper_name="帮办员小李")
    accepted = await client.post("/api/cases", json=helped, headers=CLERK)
    assert accepted.status_code == 201, accepted.text
    case_no = accepted.json()["case_no"]
    receipt = await page_when_ready(client, f"/desk/cases/{case_no}/document")
    assert "受理回执" in receipt
    assert APPLICATION["applicant"]["name"] in receipt
    agent_row = re.search(r'id="receipt-agent">(.*?)</td>', receipt)
    assert agent_row is not None, receipt
    assert "钱代理" in agent_row.group(1)
    assert "配偶" in agent_row.group(1)
    assert f"{AGENT_ID[:6]}********{AGENT_ID[-4:]}" in agent_row.group(1)
    assert AGENT_ID not in receipt
    assert "授权委托书" in receipt  # among the received materials
    assert "帮办员小李" in receipt
    event = await eventually(lambda: published(settings, "CaseAccepted", "case_no", case_no))
    assert event["agent_id_number"].startswith("enc:v1:")
    assert event["helper_name"] == "帮办员小李"

    # Staff acting on the case see the agent's whole ID (opened from its sealed form); an operator sees it masked.
    for who, whole in ((CLERK, AGENT_ID), (auth("op-qian"), "")):
        shown = await client.get(f"/api/cases/{case_no}", headers=who)
        assert shown.status_code == 200, shown.text
        assert shown.json()["dossier"]["agent_id_number"] == whole
        assert shown.json()["dossier"]["agent_id_masked"] == f"{AGENT_ID[:6]}********{AGENT_ID[-4:]}"

    # The public lookup takes the agent's ID number as well as the applicant's; anything else is 404.
    for id_number in (AGENT_ID, APPLICATION["applicant"]["id_number"]):
        found = await client.get("/api/lookup", params={"case_no": case_no, "id_number": id_number})
        assert found.status_code == 200, found.text
        assert found.json()["applicant_name"] == APPLICATION["applicant"]["name"]
        assert found.json()["agent_name"] == "钱代理"
    stranger = await client.get("/api/lookup", params={"case_no": case_no, "id_number": BAD_AGENT_ID})
    assert stranger.status_code == 404, stranger.text

    # A wrong agent ID: 422 naming the field and the character; nothing numbered.
    wrong = application(SEAL, ["M01", "M02", "WTS"], agent={**AGENT, "id_number": BAD_AGENT_ID})
    refused = await client.post("/api/cases", json=wrong, headers=CLERK)
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert "代理人" in detail
    assert "agent.id_number" in detail
    assert "第18位校验码" in detail
    missing_relation = await client.post(
        "/api/cases", json=application(SEAL, ["M01", "M02", "WTS"], agent={**AGENT, "relation": ""}), headers=CLERK
    )
    assert missing_relation.status_code == 400, missing_relation.text
    assert "relation" in missing_relation.text

    after = await eventually(lambda: _moved(client, before, "accepted", 1))
    assert after["notices"] == before["notices"] + 2

    # No Redis value of this hall holds the agent's ID number in clear (masked, sealed and hashed only), and no
    # record of any of its topics (the commands and events carry it sealed).
    assert not await _redis_holding(settings, AGENT_ID)
    records = await read_topics(settings.kafka_bootstrap_servers, settings.namespace, [t.name for t in topics.ALL])
    assert records
    assert not [r for r in records if AGENT_ID.encode() in r.value]


async def _redis_holding(settings: HallSettings, secret: str) -> list[str]:
    """Keys of the namespace whose name or value holds ``secret`` (as UTF-8 or JSON text)."""
    forms = (secret.encode(), msgspec.json.encode(secret).strip(b'"'))
    return [key for key, blob in (await namespace_values(settings)).items() if any(f in blob for f in forms)]


async def _kept(redis: Any, namespace: str) -> dict[str, bytes]:
    """The keys this work adds: intake's notices and their series, the gateway's notices, counts, agent hashes."""
    found: dict[str, bytes] = {}
    for pattern in ("intake:notice:*", "intake:seq-notice:*", "gateway:onetime*", "gateway:intake-counts"):
        async for raw in redis.scan_iter(match=f"{namespace}:{pattern}", count=1000):
            key = raw.decode()
            kind = (await redis.type(key)).decode()
            if kind == "string":
                found[key] = await redis.get(key)
            elif kind == "hash":
                found[key] = msgspec.json.encode(sorted((await redis.hgetall(key)).items()))
            else:
                found[key] = msgspec.json.encode(await redis.zrange(key, 0, -1))
    async for raw in redis.scan_iter(match=f"{namespace}:gateway:dossier:*", count=1000):
        agent = await redis.hget(raw, "agentidhash")
        if agent is not None:
            found[f"{raw.decode()}#agentidhash"] = agent
    return found


async def test_notices_and_agents_come_back_from_kafka_after_redis_is_wiped(settings: HallSettings) -> None:
    fresh = await fresh_settings(settings)
    redis: Any = Redis.from_url(fresh.redis_url)
    try:
        async with in_process_hall(fresh) as hall:
            told = await hall.client.post("/api/cases", json=application(GAS, ["M01"], agent=AGENT), headers=CLERK)
            assert told.status_code == 200, told.text
            full = application(SEAL, ["M01", "M02", "WTS"], agent=AGENT)
            accepted = await hall.client.post("/api/cases", json=full, headers=CLERK)
            assert accepted.status_code == 201, accepted.text
            await page_when_ready(hall.client, f"/desk/notices/{told.json()['notice_no']}")
            await page_when_ready(hall.client, f"/desk/cases/{accepted.json()['case_no']}/document")
            before = await eventually(lambda: _settled(redis, fresh.namespace))
        wiped = [key async for key in redis.scan_iter(match=f"{fresh.namespace}:*", count=1000)]
        await redis.delete(*wiped)

        async with in_process_hall(fresh) as hall:
            sign_in_again()  # sessions issued before the wipe are refused
            assert await _kept(redis, fresh.namespace) == before
            again = await hall.client.post("/api/cases", json=application(GAS, []), headers=CLERK)
            assert again.status_code == 200, again.text
            first, second = told.json()["notice_no"], again.json()["notice_no"]
            assert second[:-6] == first[:-6]
            assert int(second[-6:]) == int(first[-6:]) + 1  # the series continues, no number twice
            case_no = accepted.json()["case_no"]
            found = await hall.client.get("/api/lookup", params={"case_no": case_no, "id_number": AGENT_ID})
            assert found.status_code == 200, found.text
    finally:
        await redis.aclose()


async def _settled(redis: Any, namespace: str) -> dict[str, bytes] | None:
    """The kept keys once both the notice and the agent's case are in the gateway's read models."""
    kept = await _kept(redis, namespace)
    ready = any("#agentidhash" in k for k in kept) and any(":gateway:onetime:" in k for k in kept)
    return kept if ready else None
