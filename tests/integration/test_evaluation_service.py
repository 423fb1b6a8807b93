"""The evaluation service alone on the real Kafka and Redis: this test plays intake, routing, timing and the
gateway by publishing their records, and reads what evaluation publishes and answers."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from redis.asyncio import Redis

from services.evaluation.app import build
from services.evaluation.messages import (
    CaseAccepted,
    CaseDelivered,
    ClockAlerted,
    ClockRequested,
    ClockStarted,
    ClockWithdrawn,
    CloseCorrection,
    ExtendCorrection,
    FollowUpChanged,
    IssueRatingLink,
    RatingRecorded,
    RecordReturnVisit,
    ReviewAppeal,
    SubmitRating,
    VerifyBadReview,
)
from shared import topics
from shared.calendar import WorkingCalendar
from shared.envelope import SYSTEM, Actor, Envelope, decode, encode, now, wrap
from shared.kafka import ServiceRuntime
from shared.replies import Reply, decode_reply
from shared.settings import HallSettings
from tests.halls import fresh_settings
from tests.support import eventually

pytestmark = pytest.mark.integration

CLERK = Actor(kind="clerk", id="clerk-zhang", name="张敏")
DELIVERER = Actor(kind="clerk", id="clerk-wang", name="王磊")
KIOSK = Actor(kind="kiosk", id="kiosk-01")
PAD = Actor(kind="pad", id="pad-01")
STAFF = Actor(kind="staff", id="zrzy-li", name="李强")
BOSS = Actor(kind="supervisor", id="zrzy-boss", name="周建国")
HALL_BOSS = Actor(kind="hall-supervisor", id="hall-boss", name="乌兰")  # 政务服务管理机构 (行政审批和政务服务局)
HALL_DEPT = "行政审批和政务服务局"
DEPT = "自然资源局"
TAIL = "011234"  # the last six of the applicant's ID number: a kiosk asks for them


class Wire:
    """Publishes records as the other services would and keeps everything evaluation publishes and answers."""

    def __init__(self, settings: HallSettings) -> None:
        self.settings = settings
        self.producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
        self.events: list[Envelope] = []
        self.replies: dict[str, Reply] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.producer.start()
        for topic, keep in ((topics.EVALUATION_EVENTS, self._event), (topics.GATEWAY_REPLIES, self._reply)):
            consumer = AIOKafkaConsumer(
                self.settings.topic(topic),
                bootstrap_servers=self.settings.kafka_bootstrap_servers,
                auto_offset_reset="earliest",
                enable_auto_commit=False,
            )
            await consumer.start()
            self._tasks.append(asyncio.create_task(self._read(consumer, keep)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.producer.stop()

    async def _read(self, consumer: AIOKafkaConsumer, keep: Any) -> None:
        try:
            async for record in consumer:
                keep(record.value)
        finally:
            await consumer.stop()

    def _event(self, value: bytes) -> None:
        self.events.append(decode(value))

    def _reply(self, value: bytes) -> None:
        answer = decode_reply(value)
        self.replies[answer.correlation_id] = answer

    async def publish(
        self,
        topic: str,
        payload: msgspec.Struct,
        case_id: str,
        actor: Actor = SYSTEM,
        event_id: str | None = None,
        *,
        occurred_at: datetime | None = None,
    ) -> Envelope:
        envelope = wrap(payload, case_id=case_id, actor=actor, event_id=event_id)
        if occurred_at is not None:
            envelope = msgspec.structs.replace(envelope, occurred_at=occurred_at)
        await self.producer.send_and_wait(self.settings.topic(topic), encode(envelope), key=case_id.encode())
        return envelope

    async def handled(self, envelope: Envelope) -> None:
        """Until evaluation has handled ``envelope`` (its outbox marker is set): commands have a consumer of their
        own, so a command sent after an event may be handled before it."""
        redis = Redis.from_url(self.settings.redis_url)
        marker = self.settings.key("evaluation", "done", envelope.event_id)
        try:

            async def marked() -> bool | None:
                return True if await redis.exists(marker) else None

            await eventually(marked)
        finally:
            await redis.aclose()

    async def command(self, payload: msgspec.Struct, case_id: str, actor: Actor) -> Reply:
        sent = await self.publish(topics.EVALUATION_COMMANDS, payload, case_id, actor)

        async def answered() -> Reply | None:
            return self.replies.get(sent.event_id)

        return await eventually(answered)

    def of(self, kind: type[msgspec.Struct], case_id: str) -> list[Any]:
        tag = f"{kind.__name__}.v1"
        return [
            msgspec.json.decode(e.payload, type=kind) for e in self.events if e.type == tag and e.case_id == case_id
        ]

    async def wait_for(self, kind: type[msgspec.Struct], case_id: str, count: int = 1) -> list[Any]:
        async def published() -> list[Any] | None:
            found = self.of(kind, case_id)
            return found if len(found) >= count else None

        return await eventually(published)


async def running(settings: HallSettings) -> ServiceRuntime:
    runtime = build(settings)
    await runtime.start()
    await runtime.broker.start()
    return runtime


async def halt(runtime: ServiceRuntime) -> None:
    await runtime.stop()
    await runtime.broker.stop()


@pytest.fixture(scope="module")
async def wire(settings: HallSettings) -> AsyncIterator[Wire]:
    fresh = await fresh_settings(settings)
    runtime = await running(fresh)
    wire = Wire(fresh)
    await wire.start()
    try:
        yield wire
    finally:
        await wire.stop()
        await halt(runtime)


async def delivered_case(wire: Wire) -> tuple[str, str]:
    """A case accepted by clerk-zhang and delivered by clerk-wang; returns (case id, case no)."""
    case_id, case_no = uuid.uuid4().hex, f"150525{uuid.uuid4().int % 10**14:014d}"
    accepted = CaseAccepted(
        case_no=case_no,
        item_code="11150525000118001",
        item_name="查封登记",
        departments=[DEPT],
        accepted_at=now(),
        owner=CLERK.id,
        applicant_name="赵小红",
        applicant_id_number="150525199001011234",
    )
    await wire.publish(topics.INTAKE_EVENTS, accepted, case_id, CLERK)
    await wire.publish(topics.ROUTING_EVENTS, CaseDelivered(case_no=case_no, delivered_at=now()), case_id, DELIVERER)
    await wire.wait_for(ClockRequested, case_id, count=2)
    return case_id, case_no


async def test_each_service_of_a_case_opens_with_a_rating_window_clock(wire: Wire) -> None:
    case_id, case_no = await delivered_case(wire)
    requests = wire.of(ClockRequested, case_id)
    # The two come from different topics (intake's, routing's), handled in lanes of their own: in either order.
    stages = sorted((r.purpose, r.clock_id.rsplit(":", 1)[1]) for r in requests)
    assert stages == [("评价期", "办结"), ("评价期", "受理")]
    assert {(r.limit.value, r.limit.unit, r.case_no, r.department) for r in requests} == {(5, "WD", case_no, DEPT)}


async def test_a_duplicate_rating_and_a_second_follow_up_are_refused_with_reasons(wire: Wire) -> None:
    case_id, case_no = await delivered_case(wire)
    first = await wire.command(
        SubmitRating(level="非常满意", channel="自助终端", applicant_id_tail=TAIL), case_id, KIOSK
    )
    assert first.status == 201, first.reason
    assert msgspec.json.decode(first.body)["stage"] == "办结"
    again = await wire.command(SubmitRating(level="满意", channel="自助终端", applicant_id_tail=TAIL), case_id, KIOSK)
    assert again.status == 409
    assert f"办件 {case_no} 的“办结”服务已于" in again.reason
    assert again.reason.endswith("评价，不能重复评价")
    follow_up = SubmitRating(
        kind="追评", level="满意", channel="自助终端", text="补充：窗口很耐心", applicant_id_tail=TAIL
    )
    assert (await wire.command(follow_up, case_id, KIOSK)).status == 201
    second = await wire.command(follow_up, case_id, KIOSK)
    assert (second.status, second.reason) == (409, f"办件 {case_no} 的“办结”服务已追评，每项服务只能追评一次")
    records = await wire.wait_for(RatingRecorded, case_id, count=2)
    assert [(r.kind, r.level, r.default, r.stage, r.clerk) for r in records] == [
        ("首评", "非常满意", False, "办结", "clerk-wang"),
        ("追评", "满意", False, "办结", "clerk-wang"),
    ]
    # Rated in time: the window's clock is withdrawn.
    assert [w.clock_id for w in await wire.wait_for(ClockWithdrawn, case_id)] == [f"{case_id}:评价期:办结"]


async def test_a_rating_after_the_window_is_refused_with_its_end(wire: Wire) -> None:
    case_id, _ = await delivered_case(wire)
    ended = now() - timedelta(minutes=1)
    started = ClockStarted(case_no="", promised_deadline=ended, clock_id=f"{case_id}:评价期:受理", purpose="评价期")
    await wire.handled(await wire.publish(topics.TIMING_EVENTS, started, case_id))

    async def refused() -> Reply | None:
        answer = await wire.command(
            SubmitRating(stage="受理", level="满意", channel="自助终端", applicant_id_tail=TAIL), case_id, KIOSK
        )
        return answer if answer.status == 409 else None

    answer = await eventually(refused)
    local = ended.astimezone(ZoneInfo("Asia/Shanghai"))
    assert answer.reason == f"评价期已于 {local:%Y-%m-%d %H:%M} 结束，不能再评价"


async def test_a_forged_and_a_reused_token_are_refused(wire: Wire) -> None:
    case_id, case_no = await delivered_case(wire)
    issued = await wire.command(IssueRatingLink(stage="办结", channel="短信"), case_id, DELIVERER)
    assert issued.status == 201, issued.reason
    token = msgspec.json.decode(issued.body)["token"]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    refusal = await wire.command(SubmitRating(level="满意", channel="短信", token=forged), case_id, SYSTEM)
    assert (refusal.status, refusal.reason) == (403, "评价码无效：签名不符，可能是伪造或被改动的链接")
    used = await wire.command(SubmitRating(level="满意", channel="短信", token=token), case_id, SYSTEM)
    assert used.status == 201, used.reason
    again = await wire.command(SubmitRating(level="满意", channel="短信", token=token), case_id, SYSTEM)
    assert (again.status, again.reason) == (409, "该评价码已使用过，不能重复评价")
    (record,) = await wire.wait_for(RatingRecorded, case_id)
    assert (record.channel, record.rater.name, record.case_no) == ("短信", "赵小红", case_no)


async def test_a_pad_rates_its_windows_service_and_not_another_clerks(wire: Wire) -> None:
    case_id, _ = await delivered_case(wire)
    # The 办结 service was clerk-wang's; pad-01 stands at clerk-zhang's window.
    wrong = await wire.command(SubmitRating(stage="办结", level="满意", channel="评价器"), case_id, PAD)
    assert wrong.status == 403
    assert "所在窗口没有办理" in wrong.reason
    right = await wire.command(
        SubmitRating(
            stage="受理", code=5, code_table="评价接口", channel="评价器", indicators={"服务态度": "非常满意"}
        ),
        case_id,
        PAD,
    )
    assert right.status == 201, right.reason
    (record,) = await wire.wait_for(RatingRecorded, case_id)
    assert (record.level, record.gbt_code, record.indicators) == ("非常满意", 1, {"服务态度": "非常满意"})


async def test_the_default_rating_is_applied_once_across_redeliveries_and_a_restart(settings: HallSettings) -> None:
    fresh = await fresh_settings(settings)
    runtime = await running(fresh)
    wire = Wire(fresh)
    await wire.start()
    try:
        case_id, _ = await delivered_case(wire)
        clock_id = f"{case_id}:评价期:办结"
        deadline = now() - timedelta(seconds=1)
        alert = ClockAlerted(clock_id=clock_id, purpose="评价期", case_no="", level="逾期", deadline=deadline)
        first = await wire.publish(topics.TIMING_EVENTS, alert, case_id)
        await wire.publish(topics.TIMING_EVENTS, alert, case_id, event_id=first.event_id)  # redelivered
        await wire.publish(topics.TIMING_EVENTS, alert, case_id)  # raised again by a restarted timing
        default = (await wire.wait_for(RatingRecorded, case_id))[0]
        await halt(runtime)
        runtime = await running(fresh)
        await wire.publish(topics.TIMING_EVENTS, alert, case_id, event_id=first.event_id)
        await wire.publish(topics.TIMING_EVENTS, alert, case_id)
        late = await wire.command(
            SubmitRating(level="非常满意", channel="自助终端", applicant_id_tail=TAIL), case_id, KIOSK
        )
        assert (late.status, late.reason) == (409, "评价期已结束，系统已默认评价为“满意”，不能再评价")
        assert (default.default, default.channel, default.level, default.stage) == (True, "系统默认", "满意", "办结")
        assert default.rated_at == deadline
        # A redelivered alert re-publishes the same record (same event id) for consumers to drop: one rating.
        assert {r.rating_id for r in wire.of(RatingRecorded, case_id)} == {default.rating_id}
        assert len({e.event_id for e in wire.events if e.type == "RatingRecorded.v1" and e.case_id == case_id}) == 1
    finally:
        await wire.stop()
        await halt(runtime)


async def test_a_bad_review_opens_a_follow_up_whose_appeal_ends_in_an_invalid_bad_review(wire: Wire) -> None:
    case_id, case_no = await delivered_case(wire)
    answer = await wire.command(
        SubmitRating(level="不满意", channel="自助终端", text="排队太久", applicant_id_tail=TAIL), case_id, KIOSK
    )
    assert answer.status == 201, answer.reason
    followup_id = msgspec.json.decode(answer.body)["followup_id"]
    (opened,) = await wire.wait_for(FollowUpChanged, case_id)
    assert (opened.followup.status, opened.followup.department, opened.followup.rater.real_name) == (
        "待核实",
        DEPT,
        True,
    )
    correction = next(r for r in wire.of(ClockRequested, case_id) if r.purpose == "整改")
    assert (correction.limit.value, correction.limit.unit) == (15, "WD")
    assert correction.starts_at == opened.followup.opened_at
    # Timing answers with the correction's end: 15 working days from the calendar.
    deadline = WorkingCalendar().deadline(correction.starts_at, 15, "WD")
    started = ClockStarted(case_no=case_no, promised_deadline=deadline, clock_id=correction.clock_id, purpose="整改")
    await wire.publish(topics.TIMING_EVENTS, started, case_id)
    changed = await wire.wait_for(FollowUpChanged, case_id, count=2)
    assert changed[1].followup.deadline == deadline

    appeal = VerifyBadReview(
        followup_id=followup_id, outcome="申诉", reply="经核实当日系统故障", appeal_reason="非窗口原因", department=DEPT
    )
    assert (await wire.command(appeal, case_id, STAFF)).status == 200
    # The rated department's own supervisor may not rule on it (谁办理谁负责: 被评价部门不能裁决).
    own = await wire.command(
        ReviewAppeal(followup_id=followup_id, upheld=True, opinion="属实", department=DEPT), case_id, BOSS
    )
    assert (own.status, own.reason.startswith("被评价部门不能裁决对本部门的申诉")) == (403, True)
    review = ReviewAppeal(followup_id=followup_id, upheld=True, opinion="属实", department=HALL_DEPT)
    early = await wire.command(review, case_id, HALL_BOSS)
    assert (early.status, early.reason) == (409, f"实名差评（办件 {case_no}）须先回访评价人，才能办结")
    visit = RecordReturnVisit(followup_id=followup_id, method="电话", note="评价人表示理解", department=DEPT)
    assert (await wire.command(visit, case_id, STAFF)).status == 200
    reviewed = await wire.command(review, case_id, HALL_BOSS)
    assert reviewed.status == 200, reviewed.reason
    assert msgspec.json.decode(reviewed.body)["status"] == "无效差评"
    withdrawn = await wire.wait_for(ClockWithdrawn, case_id)
    assert correction.clock_id in [w.clock_id for w in withdrawn]


async def test_an_overdue_correction_is_marked_overdue_once(wire: Wire) -> None:
    case_id, _ = await delivered_case(wire)
    answer = await wire.command(
        SubmitRating(level="非常不满意", channel="自助终端", applicant_id_tail=TAIL), case_id, KIOSK
    )
    assert answer.status == 201, answer.reason
    await wire.wait_for(FollowUpChanged, case_id)
    correction = next(r for r in wire.of(ClockRequested, case_id) if r.purpose == "整改")
    past: datetime = now() - timedelta(hours=1)
    alert = ClockAlerted(clock_id=correction.clock_id, purpose="整改", case_no="", level="逾期", deadline=past)
    await wire.publish(topics.TIMING_EVENTS, alert, case_id)
    await wire.publish(topics.TIMING_EVENTS, alert, case_id)
    changes = await wire.wait_for(FollowUpChanged, case_id, count=2)
    assert changes[1].followup.overdue
    assert changes[1].change.startswith("整改逾期")
    await asyncio.sleep(0.5)  # the second alert changes nothing
    assert len(wire.of(FollowUpChanged, case_id)) == 2


@pytest.mark.parametrize("sent_ago_s", [0, 60], ids=["evaluation-up-to-date", "evaluation-a-minute-behind"])
async def test_a_rating_sent_after_the_gateway_saw_the_delivery_waits_for_it_here(wire: Wire, sent_ago_s: int) -> None:
    """Evaluation a minute behind (restarted, catching up after an outage: the chaos run's stuck ratings) still
    waits for the delivery the gateway vouched for, past the 10 s it gives an unvouched rating."""
    case_id, case_no = uuid.uuid4().hex, f"150525{uuid.uuid4().int % 10**14:014d}"
    accepted = CaseAccepted(
        case_no=case_no, item_code="11150525000118001", item_name="查封登记", departments=[DEPT], accepted_at=now()
    )
    await wire.publish(topics.INTAKE_EVENTS, accepted, case_id, CLERK)
    await wire.wait_for(ClockRequested, case_id)
    sent = await wire.publish(
        topics.EVALUATION_COMMANDS,
        SubmitRating(level="满意", channel="自助终端", seen_delivered=True, applicant_id_tail=TAIL),
        case_id,
        KIOSK,
        occurred_at=now() - timedelta(seconds=sent_ago_s),
    )
    await asyncio.sleep(0.5)  # routing's CaseDelivered reaches evaluation after the rating
    await wire.publish(topics.ROUTING_EVENTS, CaseDelivered(case_no=case_no, delivered_at=now()), case_id, DELIVERER)

    async def answered() -> Reply | None:
        return wire.replies.get(sent.event_id)

    answer = await eventually(answered)
    assert answer.status == 201, answer.reason
    assert msgspec.json.decode(answer.body)["stage"] == "办结"  # the delivered service, not 受理


async def test_an_unvouched_rating_for_a_service_not_open_is_refused_once_its_grace_has_passed(wire: Wire) -> None:
    case_id, case_no = uuid.uuid4().hex, f"150525{uuid.uuid4().int % 10**14:014d}"
    accepted = CaseAccepted(
        case_no=case_no, item_code="11150525000118001", item_name="查封登记", departments=[DEPT], accepted_at=now()
    )
    await wire.publish(topics.INTAKE_EVENTS, accepted, case_id, CLERK)
    await wire.wait_for(ClockRequested, case_id)
    sent = await wire.publish(
        topics.EVALUATION_COMMANDS,
        SubmitRating(level="满意", channel="自助终端", stage="办结", applicant_id_tail=TAIL),
        case_id,
        KIOSK,
        occurred_at=now() - timedelta(seconds=60),
    )

    async def answered() -> Reply | None:
        return wire.replies.get(sent.event_id)

    answer = await eventually(answered)
    assert answer.status == 409, answer.reason
    assert "尚未出件" in answer.reason, answer.reason


async def test_a_correction_is_extended_once_on_a_new_clock_from_the_old_deadline(wire: Wire) -> None:
    case_id, case_no = await delivered_case(wire)
    answer = await wire.command(
        SubmitRating(level="不满意", channel="自助终端", anonymous=True, applicant_id_tail=TAIL), case_id, KIOSK
    )
    assert answer.status == 201, answer.reason
    followup_id = msgspec.json.decode(answer.body)["followup_id"]
    first = next(r for r in wire.of(ClockRequested, case_id) if r.purpose == "整改")
    deadline = WorkingCalendar().deadline(first.starts_at, 15, "WD")
    started = ClockStarted(case_no=case_no, promised_deadline=deadline, clock_id=first.clock_id, purpose="整改")
    await wire.publish(topics.TIMING_EVENTS, started, case_id)
    await wire.wait_for(FollowUpChanged, case_id, count=2)
    correct = VerifyBadReview(followup_id=followup_id, outcome="整改", reply="将增设引导员", department=DEPT)
    assert (await wire.command(correct, case_id, STAFF)).status == 200
    extend = ExtendCorrection(followup_id=followup_id, reason="需招聘引导员", department=DEPT)
    extended = await wire.command(extend, case_id, STAFF)
    assert extended.status == 200, extended.reason
    again = await wire.command(extend, case_id, STAFF)
    assert (again.status, again.reason) == (409, "整改期限已延长过一次，不能再次延长")
    withdrawn = await wire.wait_for(ClockWithdrawn, case_id, count=2)  # the window's (rated) and the first 整改 clock
    assert first.clock_id in [w.clock_id for w in withdrawn]
    second = [r for r in await wire.wait_for(ClockRequested, case_id, count=4) if r.purpose == "整改"][1]
    assert (second.starts_at, second.limit.value, second.limit.unit) == (deadline, 15, "WD")
    assert second.clock_id != first.clock_id
    # An anonymous bad review closes without a return visit.
    close = CloseCorrection(followup_id=followup_id, outcome="整改完成", explanation="已增设引导员", department=DEPT)
    closed = await wire.command(close, case_id, STAFF)
    assert closed.status == 200, closed.reason
    assert msgspec.json.decode(closed.body)["status"] == "整改完成"
