"""跨省通办 (收件地代收, 办理地办理), issue 14 item 3, on the real Kafka and Redis: a case of an applicant from
another province is received here, sent by the clerk within the handover limit (the only time charged to our
department), answered by the demo counterpart over Kafka and handed out at our window; a counterpart that never
confirms receipt raises the operators' alert when the receipt clock runs out (time moved by a ManualClock); the
platforms' adapter refuses a wrong key and answers a replayed reference the same without doing anything again;
a 一件事 of scope 跨省 goes over as one."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from services.counterpart.app import build as build_counterpart
from services.gateway.external.keys import HEADER, ExternalKeys
from services.intake.messages import CaseAccepted, ChildCase, LimitOut, Material
from shared import topics
from shared.clock import SYSTEM_CLOCK, ManualClock
from shared.envelope import Actor, encode, wrap
from shared.settings import HallSettings
from tests.halls import InProcessHall, fresh_settings, in_process_hall
from tests.journeys import CLERK, all_items, auth, state
from tests.support import eventually

pytestmark = pytest.mark.integration

MARRIAGE = "11150525000140004"  # 结婚登记: 跨省, 民政局, 即办件 (promised 0 WD), handover limit 1 WD
OPERATOR = auth("op-qian")
BEIJING_KEY, HEBEI_KEY = secrets.token_urlsafe(40), secrets.token_urlsafe(40)
SILENT = "河北省"  # the demo counterpart never answers for it


def id_number(prefix: str) -> str:
    """A valid 居民身份证 number: ``prefix`` (region code, birth date, sequence: 17 digits) and its check digit."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return prefix + "10X98765432"[sum(int(d) * w for d, w in zip(prefix, weights, strict=True)) % 11]


def marriage(id_prefix: str) -> dict[str, Any]:
    applicant = {"name": "钱多多", "id_type": "居民身份证", "id_number": id_number(id_prefix), "phone": "13800138000"}
    return {"item_code": MARRIAGE, "applicant": applicant, "materials": ["M01", "M02"]}


@pytest.fixture(scope="module")
async def moved(settings: HallSettings) -> AsyncIterator[tuple[InProcessHall, ManualClock]]:
    """A hall of its own (time moved by a ManualClock), the platforms' keys configured, and the demo counterpart
    answering at once for every province but 河北省."""
    saved = {k: os.environ.get(k) for k in ("HALL_EXTERNAL_KEYS", "HALL_EXTERNAL_RECEIPT_LIMIT")}
    os.environ["HALL_EXTERNAL_KEYS"] = f'{{"北京市": "{BEIJING_KEY}", "河北省": "{HEBEI_KEY}"}}'
    os.environ["HALL_EXTERNAL_RECEIPT_LIMIT"] = "2WD"
    clock = ManualClock(SYSTEM_CLOCK.now())
    ns = await fresh_settings(settings)
    counterpart = build_counterpart(ns, delay=0.0, silent=frozenset({SILENT}))
    try:
        async with in_process_hall(ns, clock=clock) as hall:
            await counterpart.start()
            await counterpart.broker.start()
            try:
                yield hall, clock
            finally:
                await counterpart.stop()
                await counterpart.broker.stop()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


async def listed(hall: InProcessHall, case_no: str, status: str | None = None) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        body = (await hall.client.get("/api/external/cases", headers=OPERATOR)).json()
        found = next((c for c in body["cases"] if c["case_no"] == case_no), None)
        return found if found is not None and (status is None or found["status"] == status) else None

    return await eventually(probe)


async def clocks_of(hall: InProcessHall, case_no: str) -> dict[str, dict[str, Any]]:
    """The case's clocks on the SLA board by purpose: running ones (with their status) and stopped ones."""
    sla = (await hall.client.get(f"/api/sla/cases/{case_no}", headers=OPERATOR)).json()
    return {c["purpose"]: c for c in [*sla["clocks"], *sla["stopped"]]}


def types(case: dict[str, Any]) -> list[str]:
    return [e["type"] for e in case["timeline"]]


async def sent(hall: InProcessHall, case_no: str, tracking_no: str = "SF1234567890") -> None:
    await listed(hall, case_no, "待移交")
    body = {"method": "邮寄原件", "tracking_no": tracking_no}
    answer = await hall.client.post(f"/api/external/cases/{case_no}/handover", json=body, headers=CLERK)
    assert answer.status_code == 200, answer.text
    assert "HandedOver" in answer.json()["published"]


async def test_a_case_goes_to_the_demo_counterpart_and_comes_back_to_our_window(
    moved: tuple[InProcessHall, ManualClock],
) -> None:
    hall, _ = moved
    client = hall.client
    response = await client.post("/api/cases", json=marriage("11010119900307123"), headers=CLERK)
    assert response.status_code == 201, response.text
    case_no = response.json()["case_no"]
    waiting = await listed(hall, case_no, "待移交")
    assert (waiting["jurisdiction"], waiting["department"]) == ("北京市", "民政局")
    assert [m["code"] for m in waiting["materials"]] == ["M01", "M02"]

    no_tracking = await client.post(
        f"/api/external/cases/{case_no}/handover", json={"method": "邮寄原件", "tracking_no": " "}, headers=CLERK
    )
    assert no_tracking.status_code == 422, no_tracking.text
    assert "运单号" in no_tracking.json()["detail"]
    await sent(hall, case_no)
    again = await client.post(
        f"/api/external/cases/{case_no}/handover", json={"method": "电子推送", "tracking_no": "X1"}, headers=CLERK
    )
    assert again.status_code == 409, again.text

    done = await state(client, case_no, "已办结")
    kinds = types(done)
    for expected in ("HandedOver.v1", "HandoverReceived.v1", "ExternalResult.v1", "CaseCompleted.v1"):
        assert kinds.count(expected) == 1, (expected, kinds)
    assert "StepOpened.v1" not in kinds
    handed = next(e for e in done["timeline"] if e["type"] == "HandedOver.v1")
    assert handed["actor"]["id"] == "clerk-zhang"
    row = await listed(hall, case_no, "已办结")
    assert (row["tracking_no"], row["external_case_no"], row["result"]) == ("SF1234567890", f"EXT-{case_no}", "准予")
    assert row["licence"].startswith("结婚证")

    # 统一出件: the result waits at our window like any other case.
    async def at_window() -> dict[str, Any] | None:
        ready = await all_items(client, "/api/deliveries", CLERK)
        return next((c for c in ready if c["case_no"] == case_no), None)

    pickup = await eventually(at_window)
    assert pickup["result"] == "准予"
    assert [i["licence_name"] for i in pickup["items"]] == ["结婚证"]

    # Our department was charged the handover only: 1 WD, stopped on time at the handover, never alerted.
    async def both_stopped() -> dict[str, dict[str, Any]] | None:
        clocks = await clocks_of(hall, case_no)
        ours = {p: c for p, c in clocks.items() if p in ("办件", "待对方接收")}
        return ours if len(ours) == 2 and all(c.get("stopped_at") for c in ours.values()) else None

    clocks = await eventually(both_stopped)  # the receipt's clock is withdrawn when the receipt comes
    own = clocks["办件"]
    assert (own["department"], own["on_time"], own["alerts"]) == ("民政局", True, [])
    assert own["deadline"] > own["started_at"]  # 1 WD to send, not the item's 0 WD (即办)
    assert own["stopped_at"] is not None
    assert clocks["待对方接收"]["department"] == "北京市"


async def test_no_receipt_in_time_alerts_the_operators_and_never_charges_our_department(
    moved: tuple[InProcessHall, ManualClock],
) -> None:
    hall, clock = moved
    client = hall.client
    response = await client.post("/api/cases", json=marriage("13010219880512234"), headers=CLERK)
    assert response.status_code == 201, response.text
    case_no = response.json()["case_no"]
    await sent(hall, case_no, "EMS9988776655")
    await listed(hall, case_no, "已移交")

    async def handed_over_in_time() -> dict[str, Any] | None:  # timing has stopped our clock at the handover
        clocks = await clocks_of(hall, case_no)
        return clocks if "待对方接收" in clocks and clocks["办件"].get("stopped_at") else None

    await eventually(handed_over_in_time)
    clock.advance(timedelta(days=12))  # well past the 2-WD receipt limit

    async def alerted() -> dict[str, Any] | None:
        row = await listed(hall, case_no)
        return row if {a["level"] for a in row["alerts"]} >= {"逾期"} else None

    row = await eventually(alerted)
    assert row["status"] == "已移交"
    body = (await client.get("/api/external/cases", headers=OPERATOR)).json()
    assert body["overdue_receipts"] >= 1
    page = await client.get("/ops/external", headers=OPERATOR)
    assert page.status_code == 200
    assert "未收到接收回执" in page.text
    assert case_no in page.text

    clocks = await clocks_of(hall, case_no)
    own = clocks["办件"]
    assert (own["on_time"], own["alerts"]) == (True, []), "our clock stopped at the handover: never 预警 or 逾期"
    assert (clocks["待对方接收"]["department"], clocks["待对方接收"]["status"]) == (SILENT, "逾期")

    # The operator records the receipt the other side gave by phone; the other side's platform then sends its
    # result with its key.
    phoned = {"reference": "TEL-001", "kind": "接收", "channel": "电话", "external_case_no": "HB-2026-7"}
    recorded = await client.post(f"/api/external/cases/{case_no}/answers", json=phoned, headers=OPERATOR)
    assert recorded.status_code == 200, recorded.text
    clerk_try = await client.post(f"/api/external/cases/{case_no}/answers", json=phoned, headers=CLERK)
    assert clerk_try.status_code == 403
    assert (await listed(hall, case_no, "已接收"))["external_case_no"] == "HB-2026-7"
    result = {"reference": "HB-R-7", "kind": "结果", "case_no": case_no, "result": "不予", "opinion": "户籍信息不符"}
    decided = await client.post(f"/api/external/{SILENT}/events", json=result, headers={HEADER: HEBEI_KEY})
    assert decided.status_code == 200, decided.text
    done = await state(client, case_no, "已办结")
    assert types(done).count("ExternalResult.v1") == 1


async def test_the_platforms_adapter_checks_the_key_and_answers_a_replay_the_same(
    moved: tuple[InProcessHall, ManualClock],
) -> None:
    hall, clock = moved
    clock.set(SYSTEM_CLOCK.now())  # back to now: a receipt clock of this case does not run out during the test
    client = hall.client
    response = await client.post("/api/cases", json=marriage("13010219880512345"), headers=CLERK)
    assert response.status_code == 201, response.text
    case_no = response.json()["case_no"]
    path = f"/api/external/{SILENT}/events"
    receipt = {"reference": "HB-A-1", "kind": "接收", "case_no": case_no, "external_case_no": "HB-9"}
    await listed(hall, case_no, "待移交")
    early = await client.post(path, json=receipt, headers={HEADER: HEBEI_KEY})
    assert early.status_code == 409, early.text  # not handed over yet
    await sent(hall, case_no)

    for headers in ({}, {HEADER: "x" * 48}, {HEADER: BEIJING_KEY}):  # none, wrong, another province's
        refused = await client.post(path, json=receipt, headers=headers)
        assert refused.status_code == 401, refused.text
    elsewhere = await client.post("/api/external/北京市/events", json=receipt, headers={HEADER: BEIJING_KEY})
    assert elsewhere.status_code == 404, elsewhere.text  # not a case handed over to 北京市

    first = await client.post(path, json=receipt, headers={HEADER: HEBEI_KEY})
    assert first.status_code == 200, first.text
    await listed(hall, case_no, "已接收")
    result = {"reference": "HB-A-2", "kind": "结果", "case_no": case_no, "result": "准予", "licence_name": "结婚证"}
    decided = await client.post(path, json=result, headers={HEADER: HEBEI_KEY})
    assert decided.status_code == 200, decided.text
    done = await state(client, case_no, "已办结")
    before = await listed(hall, case_no, "已办结")

    replayed = await client.post(path, json=result, headers={HEADER: HEBEI_KEY})
    assert (replayed.status_code, replayed.json()) == (200, decided.json())
    assert (await client.post(path, json=receipt, headers={HEADER: HEBEI_KEY})).json() == first.json()
    other = await client.post(path, json={**result, "result": "不予", "opinion": "改判"}, headers={HEADER: HEBEI_KEY})
    assert other.status_code == 409, other.text
    # A fresh reference for a case already decided: recorded, and routing does nothing with it.
    late = await client.post(path, json={**result, "reference": "HB-A-3"}, headers={HEADER: HEBEI_KEY})
    assert late.status_code == 200, late.text

    async def settled() -> dict[str, Any] | None:
        case = (await client.get(f"/api/cases/{case_no}", headers=CLERK)).json()
        return case if types(case).count("ExternalResult.v1") == 2 else None  # the late one is in the log

    after = await eventually(settled)
    assert after["state"] == "已办结"
    assert types(after).count("CaseCompleted.v1") == types(done).count("CaseCompleted.v1") == 1
    assert await listed(hall, case_no, "已办结") == before


def test_without_configured_keys_the_adapter_refuses_everyone() -> None:
    keys = ExternalKeys.from_environment({})
    assert not keys.configured
    assert not keys.valid("北京市", "")
    with pytest.raises(ValueError, match="太短"):
        ExternalKeys({"北京市": "short"})
    configured = ExternalKeys({"北京市": BEIJING_KEY})
    assert configured.valid("北京市", BEIJING_KEY)
    assert not configured.valid("北京市", BEIJING_KEY[:-1])
    assert not configured.valid("河北省", BEIJING_KEY)


async def test_a_cross_province_bundle_is_handed_over_as_one(moved: tuple[InProcessHall, ManualClock]) -> None:
    hall, clock = moved
    clock.set(SYSTEM_CLOCK.now())
    case_no = f"T{uuid.uuid4().hex[:10].upper()}"
    limit = LimitOut(5, "WD")
    children = [
        ChildCase(
            case_no=f"{case_no}-{n}",
            item_code=code,
            item_name=name,
            department=department,
            stage=1,
            stage_name="",
            promised_limit=limit,
            statutory_limit=limit,
        )
        for n, (code, name, department) in enumerate(
            [("11150525000140004", "结婚登记", "民政局"), ("11150525000150002", "工业产品生产许可证", "市场监管局")],
            start=1,
        )
    ]
    event = CaseAccepted(
        case_no=case_no,
        item_code="B-CROSS",
        item_name="跨省一件事（测试）",
        item_version="2021-11-15",
        departments=["民政局", "市场监管局"],
        case_type=2,
        statutory_limit=limit,
        promised_limit=limit,
        applicant_name="钱多多",
        applicant_id_type="居民身份证",
        applicant_id_number="",
        channel="window",
        accepted_at=SYSTEM_CLOCK.now(),
        owner="clerk-zhang",
        owner_name="张敏",
        point="hall",
        point_name="奈曼旗政务服务中心",
        point_level=4,
        approving_department="行政审批和政务服务局",
        approving_department_uscc="",
        approving_level=4,
        scope="跨省",
        cross_province=True,
        jurisdiction="北京市",
        materials=[Material("M01", "双方居民身份证")],
        children=children,
    )
    envelope = wrap(event, case_id=uuid.uuid4().hex, actor=Actor(kind="clerk", id="clerk-zhang", name="张敏"))
    producer = AIOKafkaProducer(bootstrap_servers=hall.settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            hall.settings.topic(topics.INTAKE_EVENTS), encode(envelope), key=envelope.case_id.encode()
        )
    finally:
        await producer.stop()
    row = await listed(hall, case_no, "待移交")
    assert row["items"] == ["结婚登记", "工业产品生产许可证"]
    await sent(hall, case_no)
    done = await state(hall.client, case_no, "已办结")
    kinds = types(done)
    assert (kinds.count("HandedOver.v1"), kinds.count("CaseCompleted.v1")) == (1, 1)
    assert not {"StepOpened.v1", "ChildCompleted.v1"} & set(kinds)
    purposes = set(await clocks_of(hall, case_no))
    assert {"办件", "待对方接收"} <= purposes
    assert "子件" not in purposes  # the children's own departments are not charged here
