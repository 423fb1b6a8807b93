"""Every service rebuilds from Kafka: journeys of every kind, all Redis of the namespace wiped, the hall started
again, and every timeline, inbox, clock, rating, statistic and every service's own keys are as they were; one
more step of each journey then works, with no number and no step twice."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, cast

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from redis.asyncio import Redis

from shared import topics
from shared.envelope import encode, wrap
from shared.settings import HallSettings
from tests.halls import InProcessHall, fresh_settings, in_process_hall
from tests.integration.test_projects import BUILDER, USCC, apply, project_code
from tests.integration.test_routing_flow import CLERK_ACTOR, accepted, case_number
from tests.journeys import (
    APPLICATION,
    CLERK,
    KIOSK,
    KIOSK_PROOF,
    STAFF,
    auth,
    finish_journey,
    inbox_steps,
    open_step,
    sign_in_again,
    submit,
)
from tests.support import eventually

pytestmark = pytest.mark.integration

SUPERVISOR, OPERATOR = auth("zrzy-boss"), auth("op-qian")
QUALIFICATION = "11150525000120006"  # 建设工程企业资质: M03, M04 可容缺
BUSINESS = "11150525YJS0001"  # 企业开办
BUSINESS_FORM = ["reg.M01", "reg.M02", "reg.M03", "reg.M04", "tax.M02", "ss.M02"]
SERVICES = ("intake", "routing", "evaluation", "gateway")
KEPT = ("session:", "rate:", "idcheck:", "idem:", "signin:")  # the gateway's keys that are not read models


async def redis_state(redis: Redis, namespace: str) -> dict[str, Any]:
    """Every key of the four services (markers, built keys and the gateway's non-projections left out)."""
    state: dict[str, Any] = {}
    for service in SERVICES:
        prefix = f"{namespace}:{service}:"
        async for raw in redis.scan_iter(match=prefix + "*", count=1000):
            key = raw.decode()
            rest = key.removeprefix(prefix)
            if rest.startswith(("done:", "built")) or (service == "gateway" and rest.startswith(KEPT)):
                continue
            kind = cast("bytes", await redis.type(key)).decode()
            if kind == "string":
                state[key] = await redis.get(key)
            elif kind == "hash":
                state[key] = await redis.hgetall(key)
            elif kind == "set":
                state[key] = sorted(await redis.smembers(key))
            elif kind == "zset":
                state[key] = await redis.zrange(key, 0, -1, withscores=True)
            else:
                state[key] = kind
    return state


VOLATILE = {"remaining_s", "remaining_days", "remaining", "now"}  # computed from the time of asking, not stored


def scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


async def api_state(client: httpx.AsyncClient, cases: dict[str, str]) -> dict[str, Any]:
    """What people see: each case's timeline and dossier, its ratings and clocks, inboxes, board, books."""

    async def get(url: str, headers: dict[str, str], **params: str) -> Any:
        answer = await client.get(url, headers=headers, params=params)
        assert answer.status_code == 200, f"{url}: {answer.status_code} {answer.text}"
        return scrub(answer.json())

    seen: dict[str, Any] = {}
    for kind, case_no in cases.items():
        seen[f"case {kind}"] = await get(f"/api/cases/{case_no}", CLERK)
        seen[f"ratings {kind}"] = await get(f"/api/cases/{case_no}/ratings", CLERK)
        seen[f"clocks {kind}"] = await get(f"/api/sla/cases/{case_no}", OPERATOR)
    for department, user in (("自然资源局", STAFF), ("住建局", auth("zj-zhao")), ("市场监管局", auth("sj-gao"))):
        seen[f"inbox {department}"] = await get(f"/api/departments/{department}/steps", user)
    seen["escalations"] = await get("/api/departments/自然资源局/escalations", SUPERVISOR)
    seen["board"] = await get("/api/sla/board", OPERATOR)
    seen["deliveries"] = await get("/api/deliveries", CLERK)
    seen["跨省通办"] = await get("/api/external/cases", OPERATOR)
    seen["followups"] = await get("/api/ratings/followups", STAFF)
    for by in ("department", "clerk", "item"):
        seen[f"stats {by}"] = await get("/api/ratings/stats", OPERATOR, by=by)
    return seen


async def settled(hall: InProcessHall, redis: Redis, cases: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The state once nothing moves any more: two looks a second and a half apart agree."""
    last: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
    for _ in range(20):
        now = (await redis_state(redis, hall.settings.namespace), await api_state(hall.client, cases))
        if now == last:
            return now
        moving = _differences(last[0], now[0]) + _differences(last[1], now[1])
        last = now
        await asyncio.sleep(1.5)
    raise AssertionError(f"the hall never settled: {moving[:20]}")


async def journeys(hall: InProcessHall) -> dict[str, str]:
    """One case of each kind, each left where the next step can still be taken."""
    client = hall.client
    cases: dict[str, str] = {}
    cases["rated"] = await submit(client)
    await finish_journey(client, cases["rated"])

    deferred = {
        "item_code": QUALIFICATION,
        "applicant": {"name": "某建筑公司", "id_type": "居民身份证", "id_number": "150525199001012002"},
        "materials": ["M01", "M02", "M05"],
        "deferral_signed": True,
        "supplement_limit": {"value": 5, "unit": "WD"},
    }
    answer = await client.post("/api/cases", json=deferred, headers=CLERK)
    assert answer.status_code == 201, answer.text
    assert answer.json()["deferred"] is True
    cases["容缺"] = answer.json()["case_no"]

    cases["returned"] = await submit(client)
    step = await open_step(client, cases["returned"])
    body = {"action": "退回", "opinion": "复印件不清晰", "materials": ["不动产权证书复印件"]}
    assert (await client.post(f"/api/steps/{step}/decision", json=body, headers=STAFF)).status_code == 200

    bundle = {**APPLICATION, "item_code": BUSINESS, "materials": BUSINESS_FORM}
    answer = await client.post("/api/cases", json=bundle, headers=CLERK)
    assert answer.status_code == 201, answer.text
    cases["bundle"] = answer.json()["case_no"]  # 刻章、领票、社保 wait for 设立登记 (一件事的前后置)

    # 会签: 自来水公司 refuses 用水报装 beside 住建局's 承办, which closes (StepsClosed)
    cases["会签"] = await submit(client, {**APPLICATION, "item_code": "11150525000120004", "materials": ["M01", "M02"]})

    async def countersign() -> str | None:
        found = [
            s["step_id"]
            for s in await inbox_steps(client, "/api/departments/自来水公司/steps", auth("zls-bai"))
            if s["case_no"] == cases["会签"]
        ]
        return found[0] if found else None

    step = await eventually(countersign)
    assert (await client.post(f"/api/steps/{step}/claim", headers=auth("zls-bai"))).status_code == 200
    no = {"action": "不予许可", "opinion": "管网压力不足"}
    assert (await client.post(f"/api/steps/{step}/decision", json=no, headers=auth("zls-bai"))).status_code == 200

    # 跨省通办: received here and sent by the clerk; nobody answers in this hall (waits for the receipt)
    marriage = {
        "item_code": "11150525000140004",
        "applicant": {"name": "钱多多", "id_type": "居民身份证", "id_number": "110101199003071233"},
        "materials": ["M01", "M02"],
    }
    answer = await client.post("/api/cases", json=marriage, headers=CLERK)
    assert answer.status_code == 201, answer.text
    cases["跨省"] = answer.json()["case_no"]
    handover = {"method": "邮寄原件", "tracking_no": "SF-REBUILD-1"}

    async def sent() -> bool | None:
        posted = await client.post(f"/api/external/cases/{cases['跨省']}/handover", json=handover, headers=CLERK)
        return True if posted.status_code == 200 else None

    await eventually(sent)

    cases["extended"] = await submit(client)
    step = await open_step(client, cases["extended"])
    assert (await client.post(f"/api/steps/{step}/claim", headers=STAFF)).status_code == 200
    ask = {"extension": {"value": 10, "unit": "WD"}, "reason": "需现场核查"}
    assert (await client.post(f"/api/steps/{step}/extension", json=ask, headers=STAFF)).status_code == 200
    yes = {"approve": True, "opinion": "同意"}
    decided = await client.post(f"/api/steps/{step}/extension/decision", json=yes, headers=SUPERVISOR)
    assert decided.status_code == 200, decided.text

    cases["bad review"] = await submit(client)
    await finish_journey(client, cases["bad review"])
    link = await client.post(
        f"/api/cases/{cases['bad review']}/rating-links",
        json={"stage": "办结", "channel": "短信", "purpose": "追评"},
        headers=CLERK,
    )
    assert link.status_code == 201, link.text
    rated = await client.post(f"/api/rate/{link.json()['token']}", json={"level": "不满意", "text": "证书上姓名有误"})
    assert rated.status_code == 201, rated.text
    followup = rated.json()["followup_id"]

    async def opened() -> bool | None:
        answer = await client.get(f"/api/ratings/followups/{followup}", headers=STAFF)
        return True if answer.status_code == 200 and answer.json()["followup"]["deadline"] else None

    await eventually(opened)
    verified = await client.post(
        f"/api/ratings/followups/{followup}/verification",
        json={"outcome": "整改", "reply": "已核实，将为您更正证书"},
        headers=STAFF,
    )
    assert verified.status_code == 200, verified.text
    cases["followup"] = followup  # not a case number: kept to take its next step
    return cases


def _differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [k for k in sorted(before.keys() | after.keys()) if before.get(k) != after.get(k)]


async def project_journey(hall: InProcessHall) -> tuple[str, str]:
    """A 工程建设 project registered and its first stage applied for (the test's own: the rebuild bench clones
    ``journeys``, and a project code cannot be registered twice); its code and the stage's case number."""
    client = hall.client
    code = project_code()
    registration = {
        "project_code": code,
        "name": "重建验证住宅小区",
        "builder": BUILDER,
        "builder_uscc": USCC,
        "location": "大沁他拉镇团结路北侧",
        "project_type": "FJ",
    }
    registered = await client.post("/api/projects", json=registration, headers=CLERK)
    assert registered.status_code == 201, registered.text
    stage = await eventually(lambda: _applied(client, code, 1))
    assert stage.status_code == 201, stage.text
    return code, str(stage.json()["case_no"])


async def _applied(client: httpx.AsyncClient, code: str, stage: int) -> httpx.Response | None:
    """The stage's application, once intake knows the project (None while it answers that it does not yet)."""
    answer = await apply(client, code, stage)
    return None if answer.status_code == 422 and "未登记" in answer.text else answer


async def test_every_service_rebuilds_from_kafka_after_all_redis_is_wiped(settings: HallSettings) -> None:
    fresh = await fresh_settings(settings)
    redis = Redis.from_url(fresh.redis_url)
    try:
        async with in_process_hall(fresh) as hall:
            cases = await journeys(hall)
            followup = cases.pop("followup")
            project, cases["project stage 1"] = await project_journey(hall)
            keys_before, seen_before = await settled(hall, redis, cases)
            project_before = scrub((await hall.client.get(f"/api/projects/{project}", headers=OPERATOR)).json())
        numbers = sorted(cases.values())

        wiped = [key async for key in redis.scan_iter(match=f"{fresh.namespace}:*", count=1000)]
        assert wiped
        await redis.delete(*wiped)  # every key of the namespace: the services', timing's, markers, sessions

        stale = dict(CLERK)
        async with in_process_hall(fresh) as hall:
            # A token issued before the wipe is refused: its logout or revocation may have been lost with Redis.
            refused = await hall.client.get(f"/api/cases/{numbers[0]}", headers=stale)
            assert refused.status_code == 401, refused.text
            assert "重新登录" in refused.json()["detail"]
            sign_in_again((SUPERVISOR, "zrzy-boss"), (OPERATOR, "op-qian"))
            for service in (*SERVICES, "timing"):
                built = cast("bytes | None", await redis.get(f"{fresh.namespace}:{service}:built"))
                assert built is not None, f"{service} did not rebuild"
                summary = built.decode()  # e.g. "66 input records: 18 replayed, … 0 diverged, 0 failed; …"
                assert " 0 diverged" in summary or service in ("gateway", "intake", "timing"), summary
                assert " 0 failed" in summary or service in ("intake", "timing"), summary
            assert len(keys_before) > 100
            keys_after, seen_after = await settled(hall, redis, cases)
            assert _differences(keys_before, keys_after) == []
            assert _differences(seen_before, seen_after) == []
            project_after = scrub((await hall.client.get(f"/api/projects/{project}", headers=OPERATOR)).json())
            assert project_after == project_before
            early = await apply(hall.client, project, 2)  # intake's project rebuilt: stage 1 is not 准予 yet
            assert early.status_code == 422, early.text
            assert "立项用地规划许可" in early.json()["detail"]

            # One more step of each journey: numbers continue, steps are not doubled.
            client = hall.client
            new = await submit(client)
            assert new not in numbers
            assert new[:-6] != numbers[-1][:-6] or new > numbers[-1]
            supplied = await client.post(
                f"/api/cases/{cases['容缺']}/materials", json={"materials": ["M03", "M04"]}, headers=CLERK
            )
            assert supplied.status_code == 200, supplied.text
            assert supplied.json()["complete"] is True
            step = await open_step(client, cases["extended"])
            done = await client.post(
                f"/api/steps/{step}/decision", json={"action": "通过", "opinion": "同意"}, headers=STAFF
            )
            assert done.status_code == 200, done.text
            visit = await client.post(
                f"/api/ratings/followups/{followup}/return-visit",
                json={"method": "电话", "note": "已致电说明更正情况"},
                headers=STAFF,
            )
            assert visit.status_code == 200, visit.text
            again = await client.post(
                f"/api/cases/{cases['rated']}/ratings",
                json={"level": "满意", "channel": "自助终端", **KIOSK_PROOF},
                headers=KIOSK,
            )
            assert again.status_code == 409  # rated once, before the wipe: still rated once
            resent = {"method": "电子推送", "tracking_no": "X"}
            twice = await client.post(f"/api/external/cases/{cases['跨省']}/handover", json=resent, headers=CLERK)
            assert twice.status_code == 409, twice.text  # sent once, before the wipe
            phoned = {"reference": "TEL-1", "kind": "接收", "channel": "电话", "external_case_no": "BJ-1"}
            received = await client.post(f"/api/external/cases/{cases['跨省']}/answers", json=phoned, headers=OPERATOR)
            assert received.status_code == 200, received.text
            await finish_journey(client, new)

            async def moved() -> dict[str, Any] | None:
                answer = await client.get(f"/api/cases/{cases['extended']}", headers=CLERK)
                kinds = [e["type"] for e in answer.json()["timeline"]]
                return answer.json() if kinds.count("StepDecided.v1") == 1 else None

            extended = await eventually(moved)
            opened = [e for e in extended["timeline"] if e["type"] == "StepOpened.v1"]
            assert len(opened) == len({e["summary"] for e in opened}) == 2  # 承办 then 审核, each once
            inbox = await inbox_steps(client, "/api/departments/自然资源局/steps", STAFF)
            ids = [s["step_id"] for s in inbox]
            assert len(ids) == len(set(ids))
    finally:
        await redis.aclose()


async def test_events_and_commands_topics_are_kept_forever(settings: HallSettings) -> None:
    fresh = await fresh_settings(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=fresh.kafka_bootstrap_servers)
    await admin.start()
    wanted = [topics.INTAKE_EVENTS, topics.ROUTING_COMMANDS, topics.TIMING_EVENTS, topics.GATEWAY_REPLIES]
    resources = [ConfigResource(ConfigResourceType.TOPIC, fresh.topic(name)) for name in wanted]

    async def described() -> dict[str, dict[str, str]] | None:
        kept: dict[str, dict[str, str]] = {}
        for response in await admin.describe_configs(resources):
            for error, _, _, name, entries, *_ in response.resources:
                if error:  # a topic just created is not known to every part of the broker at once
                    return None
                kept[name] = {c[0]: c[1] for c in entries if c[0].startswith("retention.")}
        return kept

    try:
        kept = await eventually(described)
    finally:
        await admin.close()
    forever = {"retention.ms": "-1", "retention.bytes": "-1"}
    assert kept[fresh.topic(topics.INTAKE_EVENTS)] == forever
    assert kept[fresh.topic(topics.ROUTING_COMMANDS)] == forever
    assert kept[fresh.topic(topics.TIMING_EVENTS)] == forever
    assert kept[fresh.topic(topics.GATEWAY_REPLIES)] == {"retention.ms": "1209600000", "retention.bytes": "-1"}


async def test_events_waiting_before_a_service_ever_ran_are_handled_after_its_rebuild(settings: HallSettings) -> None:
    """A namespace whose topics hold events no service has handled yet: the rebuild at start leaves them to the
    consumers, which carry them out (a rebuild that took them in would mark them done and nothing would follow)."""
    fresh = await fresh_settings(settings)
    case_no = case_number()
    kafka = AIOKafkaProducer(bootstrap_servers=fresh.kafka_bootstrap_servers)
    await kafka.start()
    try:
        event = wrap(accepted(case_no), case_id=uuid.uuid4().hex, actor=CLERK_ACTOR)
        await kafka.send_and_wait(fresh.topic(topics.INTAKE_EVENTS), encode(event), key=event.case_id.encode())
    finally:
        await kafka.stop()
    async with in_process_hall(fresh) as hall:
        step = await open_step(hall.client, case_no)
        assert step
