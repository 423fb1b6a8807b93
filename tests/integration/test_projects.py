"""工程建设 as a project with four applications (issue 14, item 1), over HTTP on the real Kafka and Redis.

A 房屋建筑 project is registered once, then its four stages are applied for one by one with months of
construction between them. The whole hall runs on the process's system clock moved to fixed days of 2026 (an
official calendar year): each stage is applied for on a Monday and decided some working days later, so each
stage's working days, the stage limits (10 + 15 + 15 + 20) and the 60-working-day budget are exact. A stage
applied for before the stage before it is 准予 is refused with 422 naming that stage; a stage's licence is reused
by the later stages (材料复用); 联合验收 opens its three departments' parts at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx
import msgspec
import pytest
from redis.asyncio import Redis

from services.intake.rebuild import IntakeFold
from shared import topics
from shared.catalogue import load_catalogue
from shared.clock import SYSTEM_CLOCK
from shared.localtime import LOCAL
from shared.pii import for_settings
from shared.rebuild import Memory, decoded, read_topics
from tests.integration.conftest import InProcessHall
from tests.journeys import auth, inbox_steps
from tests.support import eventually

pytestmark = pytest.mark.integration

STAGES = ["11150525YJS0004S1", "11150525YJS0004S2", "11150525YJS0004S3", "11150525YJS0004S4"]
BUILDER, USCC = "奈曼旗宏达房地产开发有限公司", "91150525MA0R2B4C1Q"
# 岗位分离: 承办, 审核 and 决定 of each part by three people of its department.
HANDLERS = {
    "自然资源局": ("zrzy-li", "zrzy-sun", "zrzy-boss"),
    "发改委": ("fg-xu", "fg-pan", "fg-boss"),
    "住建局": ("zj-zhao", "zj-qin", "zj-boss"),
    "交通运输局": ("jt-guo", "jt-su", "jt-boss"),
    "水务局": ("sl-lin", "sl-lu", "sl-boss"),
}
STAGE_DEPARTMENTS = [
    {"自然资源局", "发改委"},
    {"自然资源局", "住建局"},
    {"住建局", "交通运输局", "水务局"},
    {"住建局", "水务局", "自然资源局"},
]
# (applied, decided): each stage applied for on a Monday at 10:00 and its last step decided after closing time.
# Working days run from the next working day's opening: 5, 7, 4 and 7 working days; the months between are
# construction and never count.
TIMES = [
    (datetime(2026, 3, 2, 10, 0, tzinfo=LOCAL), datetime(2026, 3, 9, 18, 0, tzinfo=LOCAL)),
    (datetime(2026, 5, 11, 10, 0, tzinfo=LOCAL), datetime(2026, 5, 20, 18, 0, tzinfo=LOCAL)),
    (datetime(2026, 7, 6, 10, 0, tzinfo=LOCAL), datetime(2026, 7, 10, 18, 0, tzinfo=LOCAL)),
    (datetime(2026, 9, 7, 10, 0, tzinfo=LOCAL), datetime(2026, 9, 16, 18, 0, tzinfo=LOCAL)),
]
USED = [5.0, 7.0, 4.0, 7.0]
LIMITS = [10, 15, 15, 20]


@contextmanager
def as_of(moment: datetime) -> Iterator[None]:
    """The whole in-process hall reads ``moment`` now (and runs on from there)."""
    saved = SYSTEM_CLOCK.offset
    SYSTEM_CLOCK.offset = moment - (SYSTEM_CLOCK.now() - saved)
    try:
        yield
    finally:
        SYSTEM_CLOCK.offset = saved


def project_code() -> str:
    return f"2026-150525-47-03-{uuid.uuid4().int % 10**6:06d}"


async def form(client: httpx.AsyncClient, code: str) -> list[str]:
    answer = await client.get(f"/api/catalogue/{code}", headers=auth("clerk-zhang"))
    assert answer.status_code == 200, answer.text
    return [m["code"] for m in answer.json()["materials"]]


async def apply(client: httpx.AsyncClient, code: str, stage: int, **extra: Any) -> httpx.Response:
    body = {
        "item_code": STAGES[stage - 1],
        "project_code": code,
        "applicant": {"name": BUILDER, "id_type": "统一社会信用代码", "id_number": USCC},
        "materials": await form(client, STAGES[stage - 1]),
        **extra,
    }
    return await client.post("/api/cases", json=body, headers=auth("clerk-zhang"))


async def project(client: httpx.AsyncClient, code: str) -> dict[str, Any]:
    answer = await client.get(f"/api/projects/{code}", headers=auth("op-qian"))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def open_steps(client: httpx.AsyncClient, case_no: str, departments: set[str]) -> list[dict[str, Any]]:
    found = []
    for department in sorted(departments):
        found += [
            s
            for s in await inbox_steps(client, f"/api/departments/{department}/steps", auth(HANDLERS[department][0]))
            if s["case_no"] == case_no and not s["waiting"]
        ]
    return found


async def approve(client: httpx.AsyncClient, case_no: str, departments: set[str], licence: str) -> list[set[str]]:
    """Decides every step of the stage's case (通过; a 决定 that issues a licence with its number) until none is
    left; returns the departments whose steps were open together, round by round."""
    decided: set[str] = set()
    rounds: list[set[str]] = []

    async def waiting() -> list[dict[str, Any]] | None:
        found = [s for s in await open_steps(client, case_no, departments) if s["step_id"] not in decided]
        return found or None

    while len(decided) < 3 * len(departments):
        steps = await eventually(waiting)
        rounds.append({s["department"] for s in steps})
        for step in steps:
            user = HANDLERS[step["department"]][step["seq"] - 1]
            url, body = f"/api/steps/{step['step_id']}/decision", {"action": "通过", "opinion": "同意"}
            answer = await client.post(url, json=body, headers=auth(user))
            if answer.status_code == 422 and "证照编号" in answer.text:
                body["licence_no"] = f"{licence}-{step['seq']}{len(decided)}"
                answer = await client.post(url, json=body, headers=auth(user))
            assert answer.status_code == 200, answer.text
            decided.add(step["step_id"])
    return rounds


async def stage_state(client: httpx.AsyncClient, code: str, stage: int, state: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        found = await project(client, code)
        shown = found["stages"][stage - 1]
        done = state != "准予" or shown["used"] is not None  # timing's stop comes after the result
        return found if shown["state"] == state and done else None

    found: dict[str, Any] = await eventually(probe)
    return found


async def test_a_project_goes_through_four_stages_with_construction_between_them(hall: InProcessHall) -> None:
    client = hall.client
    code = project_code()
    with as_of(TIMES[0][0]):
        registration = {
            "project_code": code,
            "name": "宏达·铭城住宅小区",
            "builder": BUILDER,
            "builder_uscc": USCC,
            "location": "大沁他拉镇团结路北侧",
            "project_type": "FJ",
        }
        registered = await client.post("/api/projects", json=registration, headers=auth("clerk-zhang"))
        assert registered.status_code == 201, registered.text
        assert [s["name"] for s in registered.json()["stages"]] == [
            "立项用地规划许可",
            "工程建设许可",
            "施工许可",
            "竣工验收（联合验收）",
        ]
        assert [s["promised_limit"]["value"] for s in registered.json()["stages"]] == LIMITS
        assert registered.json()["budget"] == {"value": 60, "unit": "WD"}
        again = await client.post("/api/projects", json=registration, headers=auth("clerk-zhang"))
        assert again.status_code == 409, again.text

        # Out of order: stage 2 before stage 1 is approved, refused naming stage 1; nothing is numbered.
        early = await apply(client, code, 2)
        assert early.status_code == 422, early.text
        assert "第1阶段“立项用地规划许可”尚未准予（尚未申报）" in early.json()["detail"]
        # A stage bundle without the project, and another applicant than the builder, are refused too.
        bare = await apply(client, "", 1)
        assert bare.status_code == 422, bare.text
        assert "项目代码（project_code）" in bare.json()["detail"]
        stranger = {"name": "赵小红", "id_type": "居民身份证", "id_number": "150525199001011237"}
        other = await apply(client, code, 1, applicant=stranger)
        assert other.status_code == 422, other.text
        assert BUILDER in other.json()["detail"]

    case_nos: list[str] = []
    for stage in (1, 2, 3, 4):
        applied_at, decided_at = TIMES[stage - 1]
        with as_of(applied_at):
            accepted = await apply(client, code, stage)
            assert accepted.status_code == 201, accepted.text
            body = accepted.json()
            assert body["project_code"] == code
            assert body["project_stage"] == stage
            assert body["promised_limit"] == {"value": LIMITS[stage - 1], "unit": "WD"}
            case_nos.append(body["case_no"])
            # 材料复用: the earlier stages' licences count as supplied, by the child case that issued them.
            reused = {r["name"]: r["case_no"].partition("-")[0] for r in body["reused"]}
            if stage == 2:
                assert reused == {"建设用地规划许可证": case_nos[0]}
            if stage == 4:
                assert reused == {"建设工程规划许可证": case_nos[1], "建筑工程施工许可证": case_nos[2]}
            running = await stage_state(client, code, stage, "审批中")
            assert running["running"] == LIMITS[stage - 1]
            if stage < 4:
                # While this stage runs, the next is refused naming this one; a second application of it is 409.
                ahead = await apply(client, code, stage + 1)
                assert ahead.status_code == 422, ahead.text
                assert f"前一阶段第{stage}阶段" in ahead.json()["detail"]
                assert case_nos[-1] in ahead.json()["detail"]
            twice = await apply(client, code, stage)
            assert twice.status_code == 409, twice.text
        with as_of(decided_at):
            rounds = await approve(client, case_nos[-1], STAGE_DEPARTMENTS[stage - 1], f"JS{stage}")
            if stage == 4:  # 联合验收: the three departments' parts run at once, one result
                assert rounds[0] == STAGE_DEPARTMENTS[3]
            done = await stage_state(client, code, stage, "准予")
        shown = done["stages"][stage - 1]
        assert shown["case_no"] == case_nos[-1]
        assert shown["used"] == pytest.approx(USED[stage - 1])
        assert shown["on_time"] is True
        assert shown["promised_limit"]["value"] == LIMITS[stage - 1]

    final = await project(client, code)
    # The approval time only: 5 + 7 + 4 + 7 working days of the 60, although March to September passed.
    assert final["budget"]["value"] == 60
    assert final["used"] == pytest.approx(sum(USED))
    assert final["remaining"] == pytest.approx(60 - sum(USED))
    assert final["running"] == 0
    assert final["current"] == "全部阶段已准予"
    licences = {lic["licence_name"] for s in final["stages"] for lic in s["licences"]}
    assert {"建设用地规划许可证", "建设工程规划许可证", "建筑工程施工许可证"} <= licences
    listed = await client.get("/api/projects?size=200", headers=auth("clerk-zhang"))
    assert listed.status_code == 200, listed.text
    assert code in [p["project_code"] for p in listed.json()["projects"]]

    # Intake's project keys come back the same when rebuilt from intake.events.
    settings = hall.settings
    events = decoded(await read_topics(settings.kafka_bootstrap_servers, settings.namespace, [topics.INTAKE_EVENTS]))
    events.sort(key=lambda pair: (pair[0].timestamp, pair[0].partition, pair[0].offset))
    fold, memory = IntakeFold(settings, load_catalogue(), for_settings(settings)), Memory()
    for _, env in events:
        fold.apply(env)
    fold.into(memory)
    redis = Redis.from_url(settings.redis_url)
    try:
        for key in [settings.key("intake", "project", code)] + [
            settings.key("intake", "project-case", case_no) for case_no in case_nos
        ]:
            live = await redis.get(key)
            assert live is not None, key
            rebuilt = memory.strings[key]
            if key.endswith(code):  # the project's record (JSON); the stage cases' keys hold the code
                assert msgspec.json.decode(rebuilt) == msgspec.json.decode(live), key
            else:
                assert rebuilt == live, key
    finally:
        await redis.aclose()


async def test_registration_and_reads_refuse_bad_input_with_the_reason(hall: InProcessHall) -> None:
    client, clerk = hall.client, auth("clerk-zhang")
    good = {
        "project_code": project_code(),
        "name": "测试项目",
        "builder": BUILDER,
        "builder_uscc": USCC,
        "location": "大沁他拉镇",
        "project_type": "FJ",
    }
    cases = [
        ({"project_code": "2026-15052-47-03-000001"}, 422, "项目代码“2026-15052-47-03-000001”格式有误"),
        ({"builder_uscc": "91150525MA0R2B4C1X"}, 422, "建设单位统一社会信用代码（builder_uscc）"),
        ({"project_type": "XX"}, 422, "未知工程建设项目类型“XX”"),
    ]
    for change, status, reason in cases:
        answer = await client.post("/api/projects", json={**good, **change}, headers=clerk)
        assert answer.status_code == status, answer.text
        assert reason in answer.json()["detail"], answer.text
    unknown = await client.post("/api/projects", json={**good, "extra": 1}, headers=clerk)
    assert unknown.status_code == 400, unknown.text
    operator = await client.post("/api/projects", json=good, headers=auth("op-qian"))
    assert operator.status_code == 403, operator.text
    malformed = await client.get("/api/projects/nope", headers=clerk)
    assert malformed.status_code == 404, malformed.text
    assert "项目代码格式为年份-6位行政区划代码" in malformed.json()["detail"]
    missing = await client.get(f"/api/projects/{project_code()}", headers=clerk)
    assert missing.status_code == 404, missing.text
    assert "没有项目代码为" in missing.json()["detail"]
    for query in ("page=0", "size=201"):
        assert (await client.get(f"/api/projects?{query}", headers=clerk)).status_code == 400
    unregistered = {
        "item_code": STAGES[0],
        "project_code": project_code(),
        "applicant": {"name": BUILDER, "id_type": "统一社会信用代码", "id_number": USCC},
        "materials": await form(client, STAGES[0]),
    }
    refused = await client.post("/api/cases", json=unregistered, headers=clerk)
    assert refused.status_code == 422, refused.text
    assert "尚未登记" in refused.json()["detail"]
