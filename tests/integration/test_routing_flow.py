"""Back-office routing through the whole in-process hall on the real Kafka and Redis: 工程建设's four stages,
bad input refused with its reason and nothing changed, 退回补正 and its notice, delivery held back while
容缺 materials are owed, a refusal delivered with its reasons, escalation from a step clock's alert, a town
point routed up, 跨省通办 handed over, and a command redelivered by Kafka handled once."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.intake.messages import CaseAccepted, ChildCase, LimitOut, Material, MaterialsSupplemented
from services.routing import jurisdiction
from services.routing.messages import ClaimStep, DecideStep
from services.timing.messages import ClockAlerted
from shared import topics
from shared.clock import SYSTEM_CLOCK
from shared.envelope import SYSTEM, Actor, Envelope, encode, wrap
from shared.localtime import LOCAL
from shared.settings import HallSettings
from tests.integration.conftest import InProcessHall
from tests.journeys import CLERK, STAFF, all_items, auth, inbox_steps, open_step, state, submit
from tests.support import eventually

pytestmark = pytest.mark.integration

CLERK_ACTOR = Actor(kind="clerk", id="clerk-zhang", name="张敏")
STAFF_OF = {
    "自然资源局": "zrzy-li",
    "发改委": "fg-xu",
    "住建局": "zj-zhao",
    "交通运输局": "jt-guo",
    "水务局": "sl-lin",
    "税务局": "sw-liu",
}
# 岗位分离: 承办, 审核 and 决定 of one child by three people of its department (a second staff, then the supervisor).
HANDLERS = {
    "自然资源局": ("zrzy-li", "zrzy-sun", "zrzy-boss"),
    "发改委": ("fg-xu", "fg-pan", "fg-boss"),
    "住建局": ("zj-zhao", "zj-qin", "zj-boss"),
    "交通运输局": ("jt-guo", "jt-su", "jt-boss"),
    "水务局": ("sl-lin", "sl-lu", "sl-boss"),
    "税务局": ("sw-liu", "sw-tang", "sw-boss"),
}
# 工程建设项目审批: (stage, department) of each child, as the catalogue's bundle has them.
ENGINEERING = [
    (1, "自然资源局"),
    (1, "发改委"),
    (2, "自然资源局"),
    (2, "住建局"),
    (3, "住建局"),
    (3, "交通运输局"),
    (3, "水务局"),
    (4, "住建局"),
    (4, "水务局"),
    (4, "自然资源局"),
]


@pytest.fixture(scope="module")
async def producer(hall: InProcessHall) -> AsyncIterator[AIOKafkaProducer]:
    kafka = AIOKafkaProducer(bootstrap_servers=hall.settings.kafka_bootstrap_servers, enable_idempotence=True)
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()


async def publish(producer: AIOKafkaProducer, settings: HallSettings, topic: str, envelope: Envelope) -> None:
    await producer.send_and_wait(settings.topic(topic), encode(envelope), key=envelope.case_id.encode())


def accepted(case_no: str, **fields: Any) -> CaseAccepted:
    """A CaseAccepted as intake publishes it (intake's own struct, so every consumer can read it)."""
    base: dict[str, Any] = {
        "case_no": case_no,
        "item_code": "11150525000118001",
        "item_name": "查封登记",
        "item_version": "2021-11-15",
        "departments": ["自然资源局"],
        "case_type": 2,
        "statutory_limit": LimitOut(20, "WD"),
        "promised_limit": LimitOut(5, "WD"),
        "applicant_name": "赵小红",
        "applicant_id_type": "居民身份证",
        "applicant_id_number": "150525199001011234",
        "channel": "window",
        "accepted_at": SYSTEM_CLOCK.now(),
        "owner": "clerk-zhang",
        "owner_name": "张敏",
        "point": "hall",
        "point_name": "奈曼旗政务服务中心",
        "point_level": 4,
        "approving_department": "自然资源局",
        "approving_department_uscc": "111505250830166177",
        "approving_level": 4,
    }
    return CaseAccepted(**{**base, **fields})


async def accept(hall: InProcessHall, producer: AIOKafkaProducer, event: CaseAccepted) -> str:
    """Publish the acceptance on intake's topic and wait until the case's timeline knows it."""
    envelope = wrap(event, case_id=uuid.uuid4().hex, actor=CLERK_ACTOR)
    await publish(producer, hall.settings, topics.INTAKE_EVENTS, envelope)
    await state(hall.client, event.case_no, "办理中")
    return envelope.case_id


def case_number() -> str:
    """A fresh number as intake gives them: region, the hall's date today, a sequence (here random)."""
    return f"150525{SYSTEM_CLOCK.now().astimezone(LOCAL):%Y%m%d}{uuid.uuid4().int % 10**6:06d}"


async def inbox(client: httpx.AsyncClient, department: str, case_no: str) -> list[dict[str, Any]]:
    return [
        s
        for s in await inbox_steps(client, f"/api/departments/{department}/steps", auth(STAFF_OF[department]))
        if s["case_no"] == case_no
    ]


async def timeline(client: httpx.AsyncClient, case_no: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/cases/{case_no}", headers=CLERK)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["timeline"]
    return entries


async def decide(client: httpx.AsyncClient, step: dict[str, Any], user: str, **body: Any) -> httpx.Response:
    decision = {"action": "通过", "opinion": "同意", **body}
    return await client.post(f"/api/steps/{step['step_id']}/decision", json=decision, headers=auth(user))


async def steps_of(client: httpx.AsyncClient, case_no: str, departments: set[str]) -> list[dict[str, Any]]:
    return [s for d in sorted(departments) for s in await inbox(client, d, case_no) if not s["waiting"]]


# ---------------------------------------------------------------- 工程建设: four stages, every step on the timeline


async def test_an_engineering_case_runs_its_four_stages_and_its_timeline_shows_every_step(
    hall: InProcessHall, producer: AIOKafkaProducer
) -> None:
    case_no = case_number()
    children = [
        ChildCase(
            case_no=f"{case_no}-{n:02d}",
            item_code=f"1115052500020{n:04d}",
            item_name=f"工程建设子项{n}",
            department=department,
            stage=stage,
            stage_name=["用地规划许可", "工程建设许可", "施工许可", "竣工验收"][stage - 1],
            promised_limit=LimitOut(10, "WD"),
            statutory_limit=LimitOut(20, "WD"),
        )
        for n, (stage, department) in enumerate(ENGINEERING, start=1)
    ]
    departments = {d for _, d in ENGINEERING}
    event = accepted(
        case_no,
        item_code="11150525YJS0004",
        item_name="工程建设项目审批",
        departments=sorted(departments),
        approving_department="住建局",
        promised_limit=LimitOut(60, "WD"),
        children=children,
    )
    await accept(hall, producer, event)
    decided: set[str] = set()
    stages_open: list[set[int]] = []

    async def next_steps() -> list[dict[str, Any]] | None:
        found = [s for s in await steps_of(hall.client, case_no, departments) if s["step_id"] not in decided]
        return found or None

    while len(decided) < 3 * len(ENGINEERING):
        open_now = await eventually(next_steps)
        stages_open.append({s["stage"] for s in open_now})
        for step in open_now:
            handler = HANDLERS[step["department"]][step["seq"] - 1]
            answer = await decide(hall.client, step, handler, opinion=f"{step['step_name']}同意")
            assert answer.status_code == 200, answer.text
            decided.add(step["step_id"])
    case = await state(hall.client, case_no, "已办结")

    assert all(len(stages) == 1 for stages in stages_open), stages_open  # one stage at a time
    assert [min(s) for s in stages_open] == sorted(min(s) for s in stages_open)
    entries = case["timeline"]
    counts = Counter(e["type"] for e in entries)
    assert counts["StepOpened.v1"] == counts["StepDecided.v1"] == 3 * len(ENGINEERING)
    assert counts["ChildCompleted.v1"] == len(ENGINEERING)
    assert counts["CaseCompleted.v1"] == 1
    for entry in entries:
        assert entry["actor"]["id"], entry
        assert entry["at"], entry
    decisions = [e for e in entries if e["type"] == "StepDecided.v1"]
    assert {e["actor"]["id"] for e in decisions} == {user for d in departments for user in HANDLERS[d]}
    for name in ("承办", "审核", "决定"):
        assert sum(f"{name}：通过" in e["summary"] for e in decisions) == len(ENGINEERING)
    completed = next(e for e in entries if e["type"] == "CaseCompleted.v1")
    assert "准予" in completed["summary"]
    last_child = max(e["at"] for e in entries if e["type"] == "ChildCompleted.v1")
    assert completed["at"] >= last_child


# ---------------------------------------------------------------- bad input: a specific 4xx, nothing changed


async def snapshot(client: httpx.AsyncClient, case_no: str, step_id: str) -> tuple[list[str], Any]:
    """Routing's side of the case: its timeline entries and the step (without the clock timing keeps)."""
    detail = (await client.get(f"/api/steps/{step_id}", headers=STAFF)).json()
    for clock in ("sla", "due", "warning_at", "provisional", "provisional_years", "paused", "alerts", "remaining"):
        detail["step"].pop(clock)
    detail["step"].pop("remaining_days")
    entries = [e["event_id"] for e in await timeline(client, case_no) if not e["type"].startswith("Clock")]
    return entries, detail


async def test_bad_step_commands_are_refused_with_their_reason_and_change_nothing(hall: InProcessHall) -> None:
    client = hall.client
    case_no = await submit(client)
    step_id = await open_step(client, case_no)
    step = {"step_id": step_id}

    before = await snapshot(client, case_no, step_id)
    stranger = await decide(client, step, "sw-liu")
    assert stranger.status_code == 403
    assert "该环节属于自然资源局，税务局无权办理" in stranger.json()["detail"]
    no_reason = await decide(client, step, "zrzy-li", action="不予许可", opinion=" ")
    assert (no_reason.status_code, no_reason.json()["detail"]) == (422, "不予许可须说明理由")
    kiosk = await decide(client, step, "kiosk-01")
    assert kiosk.status_code == 403
    assert await snapshot(client, case_no, step_id) == before

    assert (await decide(client, step, "zrzy-li")).status_code == 200
    await eventually(lambda: _has(client, case_no, "StepDecided.v1", 1))
    decided = await snapshot(client, case_no, step_id)
    again = await decide(client, step, "zrzy-li", action="不予许可", opinion="重复提交")
    assert again.status_code == 409
    assert "不能重复办理" in again.json()["detail"]
    assert await snapshot(client, case_no, step_id) == decided

    review = await open_step(client, case_no)
    assert review != step_id
    # 延长 is asked by the step's claimant (or the supervisor): services/gateway/access.py.
    claimed = await client.post(f"/api/steps/{review}/claim", headers=STAFF)
    assert claimed.status_code == 200, claimed.text
    asked = await client.post(
        f"/api/steps/{review}/extension",
        json={"extension": {"value": 10, "unit": "WD"}, "reason": "需现场核查"},
        headers=STAFF,
    )
    assert asked.status_code == 200, asked.text
    await eventually(lambda: _extension_pending(client, review))
    pending = await snapshot(client, case_no, review)
    for user, reason in (
        ("zrzy-li", "延长须经自然资源局科室负责人批准，李强不是科室负责人"),
        ("zrzy-sun", "延长须经自然资源局科室负责人批准，孙伟不是科室负责人"),
        ("sw-boss", "该环节属于自然资源局，税务局无权办理"),
    ):
        refused = await client.post(
            f"/api/steps/{review}/extension/decision", json={"approve": True}, headers=auth(user)
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"] == reason
    assert await snapshot(client, case_no, review) == pending
    approved = await client.post(
        f"/api/steps/{review}/extension/decision", json={"approve": True, "opinion": "同意"}, headers=auth("zrzy-boss")
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["published"] == ["ExtensionApproved", "ApplicantNotified"]  # 书面告知 the applicant


async def _has(client: httpx.AsyncClient, case_no: str, kind: str, count: int) -> bool | None:
    return True if [e["type"] for e in await timeline(client, case_no)].count(kind) >= count else None


async def _extension_pending(client: httpx.AsyncClient, step_id: str) -> bool | None:
    detail = (await client.get(f"/api/steps/{step_id}", headers=STAFF)).json()
    return True if detail["step"]["extension"] else None


async def test_claimed_steps_are_decided_by_the_claimant_and_reassigned_within_the_department(
    hall: InProcessHall,
) -> None:
    client = hall.client
    case_no = await submit(client)
    step_id = await open_step(client, case_no)
    claimed = await client.post(f"/api/steps/{step_id}/claim", headers=STAFF)
    assert claimed.status_code == 200, claimed.text
    other = await decide(client, {"step_id": step_id}, "zrzy-sun")
    assert other.status_code == 409
    assert "已由李强认领" in other.json()["detail"]
    abroad = await client.post(f"/api/steps/{step_id}/reassign", json={"to": "sw-liu"}, headers=STAFF)
    assert abroad.status_code == 403
    assert "只能改派给自然资源局的人员" in abroad.json()["detail"]
    nobody = await client.post(f"/api/steps/{step_id}/reassign", json={"to": "ghost"}, headers=STAFF)
    assert nobody.status_code == 422
    moved = await client.post(
        f"/api/steps/{step_id}/reassign", json={"to": "zrzy-sun", "reason": "休假"}, headers=STAFF
    )
    assert moved.status_code == 200, moved.text
    assert (await decide(client, {"step_id": step_id}, "zrzy-sun")).status_code == 200

    async def recorded() -> list[dict[str, Any]] | None:  # the step's records follow its events (read model)
        records: list[dict[str, Any]] = (await client.get(f"/api/steps/{step_id}", headers=STAFF)).json()["records"]
        return records if len(records) >= 3 else None

    records = await eventually(recorded)
    assert [r["action"] for r in records][:3] == ["开始", "认领", "改派"]
    assert all(r["actor"]["id"] and r["at"] for r in records)


# ---------------------------------------------------------------- 退回补正, its notice, and resuming


async def test_a_returned_step_gives_the_applicant_a_notice_and_resumes_after_the_supplement(
    hall: InProcessHall, producer: AIOKafkaProducer
) -> None:
    client = hall.client
    case_no = case_number()
    case_id = await accept(hall, producer, accepted(case_no))
    step_id = await open_step(client, case_no)
    returned = await decide(
        client, {"step_id": step_id}, "zrzy-li", action="退回", opinion="复印件不清晰", materials=["不动产权证书复印件"]
    )
    assert returned.status_code == 200, returned.text

    async def waiting() -> dict[str, Any] | None:
        detail = (await client.get(f"/api/steps/{step_id}", headers=STAFF)).json()
        return detail if detail["step"]["waiting"] == "补正" else None

    detail = await eventually(waiting)
    assert detail["step"]["materials"] == ["不动产权证书复印件"]
    notice = await client.get(f"/workbench/steps/{step_id}/notice", headers=CLERK)
    assert notice.status_code == 200
    assert "补正材料通知书" in notice.text
    assert "不动产权证书复印件" in notice.text
    assert case_no in notice.text
    blocked = await decide(client, {"step_id": step_id}, "zrzy-li")
    assert blocked.status_code == 409
    assert "退回补正" in blocked.json()["detail"]

    supplement = MaterialsSupplemented(
        case_no=case_no,
        materials=[Material("M02", "不动产权证书复印件")],
        remaining=[],
        complete=True,
        supplemented_at=SYSTEM_CLOCK.now(),
    )
    await publish(producer, hall.settings, topics.INTAKE_EVENTS, wrap(supplement, case_id=case_id, actor=CLERK_ACTOR))
    await eventually(lambda: _has(client, case_no, "StepResumed.v1", 1))
    assert (await decide(client, {"step_id": step_id}, "zrzy-li")).status_code == 200


async def test_staff_resume_a_returned_step_themselves(hall: InProcessHall) -> None:
    client = hall.client
    case_no = await submit(client)
    step_id = await open_step(client, case_no)
    nothing = await client.post(f"/api/steps/{step_id}/resume", json={}, headers=STAFF)
    assert (nothing.status_code, nothing.json()["detail"]) == (409, "该环节没有退回补正，无需恢复办理")
    no_list = await decide(client, {"step_id": step_id}, "zrzy-li", action="退回")
    assert (no_list.status_code, no_list.json()["detail"]) == (422, "退回补正须列明需要补正的材料")
    returned = await decide(client, {"step_id": step_id}, "zrzy-li", action="退回", materials=["协助执行通知书原件"])
    assert returned.status_code == 200
    resumed = await client.post(f"/api/steps/{step_id}/resume", json={"opinion": "已在窗口补正"}, headers=STAFF)
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["published"] == ["StepResumed", "ClockWithdrawn"]  # the return's limit ends with it


# ---------------------------------------------------------------- 统一窗口出件


async def drive(client: httpx.AsyncClient, case_no: str, action: str = "通过", opinion: str = "同意") -> None:
    """Decide the case's 自然资源局 steps until it is completed."""
    done: set[str] = set()
    while True:
        case = (await client.get(f"/api/cases/{case_no}", headers=CLERK)).json()
        if case["state"] == "已办结":
            return

        async def next_step() -> dict[str, Any] | None:
            found = [s for s in await inbox(client, "自然资源局", case_no) if s["step_id"] not in done]
            return found[0] if found else None

        step = await eventually(next_step)
        answer = await decide(client, step, "zrzy-li", action=action, opinion=opinion)
        assert answer.status_code == 200, answer.text
        done.add(step["step_id"])
        if action == "不予许可":
            await state(client, case_no, "已办结")
            return
        if step["step_name"] == "决定":
            await state(client, case_no, "已办结")


async def ready(client: httpx.AsyncClient, case_no: str) -> dict[str, Any] | None:
    return next((c for c in await all_items(client, "/api/deliveries", CLERK) if c["case_no"] == case_no), None)


async def test_a_grant_is_held_at_the_window_while_deferred_materials_are_owed(
    hall: InProcessHall, producer: AIOKafkaProducer
) -> None:
    client = hall.client
    case_no = case_number()
    owed = [Material("M03", "授权委托书")]
    case_id = await accept(hall, producer, accepted(case_no, deferred=True, owed_materials=owed))
    await drive(client, case_no)
    listed = await eventually(lambda: ready(client, case_no))
    assert listed["deliverable"] is False
    assert "授权委托书" in listed["refusal"]
    held = await client.post(f"/api/deliveries/{case_no}", json={"method": "窗口"}, headers=CLERK)
    assert held.status_code == 409
    assert held.json()["detail"] == "容缺受理的材料尚未补齐（授权委托书），补齐后才能出件"

    supplement = MaterialsSupplemented(
        case_no=case_no, materials=owed, remaining=[], complete=True, supplemented_at=SYSTEM_CLOCK.now()
    )
    await publish(producer, hall.settings, topics.INTAKE_EVENTS, wrap(supplement, case_id=case_id, actor=CLERK_ACTOR))

    async def deliverable() -> dict[str, Any] | None:
        found = await ready(client, case_no)
        return found if found and found["deliverable"] else None

    await eventually(deliverable)
    no_address = await client.post(f"/api/deliveries/{case_no}", json={"method": "邮寄"}, headers=CLERK)
    assert (no_address.status_code, no_address.json()["detail"]) == (422, "邮寄送达须填写收件地址")
    posted = await client.post(
        f"/api/deliveries/{case_no}", json={"method": "邮寄", "address": "奈曼旗大沁他拉镇建设路1号"}, headers=CLERK
    )
    assert posted.status_code == 200, posted.text
    case = await state(client, case_no, "已出件")
    delivered = [e for e in case["timeline"] if e["type"] == "CaseDelivered.v1"]
    assert len(delivered) == 1
    assert "邮寄：奈曼旗**********" in delivered[0]["summary"]  # the timeline shows the address masked
    assert delivered[0]["actor"]["id"] == "clerk-zhang"
    twice = await client.post(f"/api/deliveries/{case_no}", json={"method": "窗口"}, headers=CLERK)
    assert twice.status_code == 409
    assert "不能重复出件" in twice.json()["detail"]
    assert await ready(client, case_no) is None


async def test_a_refusal_is_delivered_with_its_reasons(hall: InProcessHall) -> None:
    client = hall.client
    case_no = await submit(client)
    await state(client, case_no, "办理中")
    early = await client.post(f"/api/deliveries/{case_no}", json={"method": "窗口"}, headers=CLERK)
    assert early.status_code == 409
    assert "尚未办结" in early.json()["detail"]
    await drive(client, case_no, action="不予许可", opinion="法院协助执行通知书已失效")
    listed = await eventually(lambda: ready(client, case_no))
    assert listed["result"] == "不予"
    assert listed["reasons"] == ["查封登记（自然资源局）：法院协助执行通知书已失效"]
    note = await client.get(f"/desk/delivery/{case_no}", headers=CLERK)
    assert note.status_code == 200
    assert "不予办理决定书" in note.text  # 查封登记 is a 行政确认: not a 行政许可's 决定书
    assert "根据《不动产登记暂行条例》第十四条的规定，决定不予办理" in note.text
    assert "行政许可法" not in note.text
    assert "法院协助执行通知书已失效" in note.text
    delivered = await client.post(f"/api/deliveries/{case_no}", json={"method": "窗口"}, headers=CLERK)
    assert delivered.status_code == 200, delivered.text
    await state(client, case_no, "已出件")


# ---------------------------------------------------------------- escalation from a step clock's alert


async def test_an_overrun_step_is_escalated_once_to_its_supervisor(
    hall: InProcessHall, producer: AIOKafkaProducer
) -> None:
    client = hall.client
    case_no = await submit(client)
    step_id = await open_step(client, case_no)
    case_id = (await client.get(f"/api/cases/{case_no}", headers=CLERK)).json()["case_id"]
    now = SYSTEM_CLOCK.now()

    async def due() -> str | None:
        found = [s for s in await inbox(client, "自然资源局", case_no) if s["step_id"] == step_id]
        return found[0]["due"] if found and found[0]["due"] else None

    deadline = datetime.fromisoformat(await eventually(due))  # timing alerts for the clock's current deadline
    for level in ("预警", "逾期", "逾期"):  # timing's alerts; the second 逾期 is a repeat (another event id)
        alert = ClockAlerted(
            clock_id=step_id,
            purpose="环节",
            case_no=case_no,
            step_id=step_id,
            department="自然资源局",
            level=level,
            deadline=deadline,
            due_at=now,
            fired_at=now,
        )
        await publish(producer, hall.settings, topics.TIMING_EVENTS, wrap(alert, case_id=case_id, actor=SYSTEM))
    await eventually(lambda: _has(client, case_no, "StepEscalated.v1", 1))

    async def escalated() -> list[dict[str, Any]] | None:
        response = await client.get("/api/departments/自然资源局/escalations", headers=auth("zrzy-boss"))
        assert response.status_code == 200, response.text
        found = [e for e in response.json()["items"] if e["step_id"] == step_id]
        return found or None

    found = await eventually(escalated)
    assert [(e["level"], e["step_name"]) for e in found] == [("逾期", "承办")]
    assert (await client.get("/api/departments/自然资源局/escalations", headers=STAFF)).status_code == 403
    step = next(s for s in await inbox(client, "自然资源局", case_no) if s["step_id"] == step_id)
    assert step["sla"] == "逾期"
    assert step["escalations"] == ["逾期"]
    page = await client.get("/workbench", headers=auth("zrzy-boss"))
    assert "超时督办" in page.text
    assert case_no in page.text
    entries = await timeline(client, case_no)
    assert [e["type"] for e in entries].count("StepEscalated.v1") == 1


# ---------------------------------------------------------------- across levels and provinces


async def test_a_case_accepted_at_a_town_point_is_routed_to_the_banner_department(
    hall: InProcessHall, producer: AIOKafkaProducer
) -> None:
    case_no = case_number()
    event = accepted(
        case_no,
        departments=["大沁他拉镇便民服务中心"],
        point="town-dqtl",
        point_name="大沁他拉镇便民服务中心",
        point_level=5,
        approving_department="自然资源局",
    )
    await accept(hall, producer, event)
    step = await eventually(lambda: _first(inbox(hall.client, "自然资源局", case_no)))
    assert (step["step_name"], step["point"]) == ("承办", "town-dqtl")


async def _others(steps: Any, step_id: str) -> list[dict[str, Any]]:
    return [s for s in await steps if s["step_id"] != step_id]


async def _first(steps: Any) -> dict[str, Any] | None:
    found: list[dict[str, Any]] = await steps
    return found[0] if found else None


@pytest.fixture(scope="module")
async def other_province(hall: InProcessHall) -> AsyncIterator[None]:
    """The other jurisdiction's stand-in, answering routing's handovers on ``external.events``."""
    runtime = jurisdiction.build(hall.settings)
    await runtime.start()
    await runtime.broker.start()
    try:
        yield
    finally:
        await runtime.stop()
        await runtime.broker.stop()


@pytest.mark.usefixtures("other_province")
async def test_a_cross_province_case_is_handed_over_and_completed_by_the_other_jurisdiction(
    hall: InProcessHall, producer: AIOKafkaProducer
) -> None:
    case_no = case_number()
    event = accepted(
        case_no,
        item_code="11150525000140004",
        item_name="结婚登记",
        departments=["民政局"],
        approving_department="民政局",
        cross_province=True,
        jurisdiction="河北省",
    )
    envelope = wrap(event, case_id=uuid.uuid4().hex, actor=CLERK_ACTOR)
    await publish(producer, hall.settings, topics.INTAKE_EVENTS, envelope)
    # 代收: the clerk sends it (services/routing/external.py); the stand-in then answers.
    handover = {"method": "电子推送", "tracking_no": "PUSH-0001"}

    async def sent() -> bool | None:
        answer = await hall.client.post(f"/api/external/cases/{case_no}/handover", json=handover, headers=CLERK)
        return True if answer.status_code == 200 else None

    await eventually(sent)
    case = await state(hall.client, case_no, "已办结")
    kinds = [e["type"] for e in case["timeline"]]
    for expected in ("HandedOver.v1", "HandoverReceived.v1", "ExternalResult.v1", "CaseCompleted.v1"):
        assert kinds.count(expected) == 1, (expected, kinds)
    assert "StepOpened.v1" not in kinds
    received = next(e for e in case["timeline"] if e["type"] == "HandoverReceived.v1")
    assert received["actor"]["name"] == "河北省政务服务中心"


# ---------------------------------------------------------------- Kafka redelivers a command


async def test_a_command_delivered_twice_by_kafka_is_carried_out_once(
    hall: InProcessHall, producer: AIOKafkaProducer
) -> None:
    client = hall.client
    case_no = await submit(client)
    step_id = await open_step(client, case_no)
    case_id = (await client.get(f"/api/cases/{case_no}", headers=CLERK)).json()["case_id"]
    command = DecideStep(step_id=step_id, action="通过", opinion="同意", department="自然资源局")
    envelope = wrap(command, case_id=case_id, actor=Actor(kind="staff", id="zrzy-li", name="李强"))
    await publish(producer, hall.settings, topics.ROUTING_COMMANDS, envelope)
    await publish(producer, hall.settings, topics.ROUTING_COMMANDS, envelope)  # the very same record again

    async def review() -> dict[str, Any] | None:
        return await _first(_others(inbox(client, "自然资源局", case_no), step_id))

    second = (await eventually(review))["step_id"]
    # A later command of the same case (same key, same partition) is handled after both copies.
    claim = ClaimStep(step_id=second, department="自然资源局")
    await publish(producer, hall.settings, topics.ROUTING_COMMANDS, wrap(claim, case_id=case_id, actor=envelope.actor))
    await eventually(lambda: _has(client, case_no, "StepClaimed.v1", 1))
    entries = await timeline(client, case_no)
    assert [e["type"] for e in entries].count("StepDecided.v1") == 1
    assert [e["type"] for e in entries].count("StepOpened.v1") == 2
