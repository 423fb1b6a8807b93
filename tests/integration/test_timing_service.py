"""The timing service on the real Kafka and Redis, time moved by a ManualClock: clocks start, pause, run on,
raise each alert level once (with two instances polling the same due set), pick up a year an operator loads,
and come back from their own log when Redis is wiped.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from redis.asyncio import Redis

from services.timing.app import build
from services.timing.store import Keys, store_year
from services.timing.yearfile import read_year_file
from shared import topics
from shared.clock import SYSTEM_CLOCK, ManualClock
from shared.envelope import Actor, Envelope, encode, new_event_id
from shared.kafka import ServiceRuntime
from shared.localtime import LOCAL
from shared.settings import HallSettings
from tests.halls import fresh_settings
from tests.support import eventually

pytestmark = pytest.mark.integration
EXAMPLE_2027 = Path(__file__).resolve().parents[2] / "data" / "calendar" / "2027.example.toml"
CLERK = Actor(kind="clerk", id="clerk-zhang", name="张敏")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL)


class Bus:
    """Publishes other services' events and reads everything timing publishes."""

    def __init__(self, settings: HallSettings) -> None:
        self.settings = settings
        self.producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
        self.consumer = AIOKafkaConsumer(
            settings.topic(topics.TIMING_EVENTS),
            bootstrap_servers=settings.kafka_bootstrap_servers,
            auto_offset_reset="earliest",
            group_id=None,
        )
        self.seen: list[tuple[Envelope, dict[str, Any]]] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Bus:
        await self.producer.start()
        await self.consumer.start()
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await self.producer.stop()
        await self.consumer.stop()

    async def _read(self) -> None:
        async for record in self.consumer:
            envelope = msgspec.json.decode(record.value or b"", type=Envelope)
            self.seen.append((envelope, msgspec.json.decode(envelope.payload)))

    async def send(
        self, topic: str, kind: str, case_id: str, payload: dict[str, Any], *, event_id: str | None = None
    ) -> str:
        envelope = Envelope(
            event_id=event_id or new_event_id(),
            type=f"{kind}.v1",
            case_id=case_id,
            actor=CLERK,
            occurred_at=SYSTEM_CLOCK.now(),
            payload=msgspec.Raw(msgspec.json.encode(payload)),
        )
        await self.producer.send_and_wait(self.settings.topic(topic), encode(envelope), key=case_id.encode())
        return envelope.event_id

    def of(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        """Distinct events (by event id: a redelivered input re-publishes the same records, which consumers drop)."""
        distinct = {e.event_id: (e, p) for e, p in self.seen}
        wanted = f"{kind}.v1"
        return [p for e, p in distinct.values() if e.type == wanted and all(p.get(k) == v for k, v in match.items())]

    async def wait(self, kind: str, count: int = 1, timeout_s: float = 20, **match: Any) -> list[dict[str, Any]]:
        async def probe() -> list[dict[str, Any]] | None:
            found = self.of(kind, **match)
            return found if len(found) >= count else None

        return await eventually(probe, timeout_s=timeout_s)


async def running(settings: HallSettings, clock: ManualClock) -> ServiceRuntime:
    runtime = build(settings, clock=clock)
    await runtime.start()
    await runtime.broker.start()
    return runtime


async def halt(runtime: ServiceRuntime) -> None:
    await runtime.stop()
    await runtime.broker.stop()


@pytest.fixture
async def ns(settings: HallSettings) -> HallSettings:
    return await fresh_settings(settings)


@pytest.fixture
async def bus(ns: HallSettings) -> AsyncIterator[Bus]:
    async with Bus(ns) as bus:
        yield bus


def accepted(case_no: str, at: str, promised: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "case_no": case_no,
        "item_code": "11150525000118001",
        "item_name": "查封登记",
        "departments": ["自然资源局"],
        "promised_limit": promised,
        "statutory_limit": {"value": 20, "unit": "WD"},
        "accepted_at": local(at).isoformat(),
        "owner": "clerk-zhang",
        "owner_name": "张敏",
        "point": "hall",
        **extra,
    }


async def test_a_case_clock_warns_goes_overdue_and_escalates_each_once(ns: HallSettings, bus: Bus) -> None:
    clock = ManualClock(local("2026-09-30 10:00"))
    timing = await running(ns, clock)
    try:
        case_id = uuid.uuid4().hex
        event_id = await bus.send(
            topics.INTAKE_EVENTS,
            "CaseAccepted",
            case_id,
            accepted("N1", "2026-09-30 10:00", {"value": 3, "unit": "WD"}),
        )
        (started,) = await bus.wait("ClockStarted", clock_id=case_id)
        assert started["promised_deadline"] == local("2026-10-10 17:30").isoformat()
        assert started["statutory_deadline"] == local("2026-11-03 17:30").isoformat()
        # 预警: the later of one working day and a fifth of the limit (5 h 24 min of 27 office hours) left.
        assert started["warning_at"] == local("2026-10-10 10:36").isoformat()
        assert (started["purpose"], started["owner"], started["hall"]) == ("办件", "clerk-zhang", "hall")
        # The same event delivered again changes nothing.
        await bus.send(
            topics.INTAKE_EVENTS,
            "CaseAccepted",
            case_id,
            accepted("N1", "2026-09-30 10:00", {"value": 3, "unit": "WD"}),
            event_id=event_id,
        )

        clock.set(local("2026-10-10 10:36"))
        (warning,) = await bus.wait("ClockAlerted", clock_id=case_id, level="预警")
        assert warning["due_at"] == local("2026-10-10 10:36").isoformat()
        clock.set(local("2026-10-14 18:00"))  # past 逾期, 督办 (10-12) and 通报 (10-14) at once: each once
        for level in ("逾期", "督办", "通报"):
            await bus.wait("ClockAlerted", clock_id=case_id, level=level)
        await asyncio.sleep(1.0)
        assert [a["level"] for a in bus.of("ClockAlerted", clock_id=case_id)] == ["预警", "逾期", "督办", "通报"]
        assert len(bus.of("ClockStarted", clock_id=case_id)) == 1

        await bus.send(
            topics.ROUTING_EVENTS,
            "CaseCompleted",
            case_id,
            {"case_no": "N1", "completed_at": local("2026-10-15 10:00").isoformat()},
        )
        (stopped,) = await bus.wait("ClockStopped", clock_id=case_id)
        assert stopped["on_time"] is False
    finally:
        await halt(timing)


async def test_pauses_and_an_extension_move_the_deadline_and_the_alerts(ns: HallSettings, bus: Bus) -> None:
    clock = ManualClock(local("2026-09-30 10:00"))
    timing = await running(ns, clock)
    try:
        case_id, step_id = uuid.uuid4().hex, f"{uuid.uuid4().hex}-1"
        await bus.send(
            topics.INTAKE_EVENTS,
            "CaseAccepted",
            case_id,
            accepted("N2", "2026-09-30 10:00", {"value": 1, "unit": "WD"}),
        )
        await bus.wait("ClockStarted", clock_id=case_id)
        await bus.send(
            topics.ROUTING_EVENTS,
            "StepOpened",
            case_id,
            {
                "case_no": "N2",
                "step_id": step_id,
                "step_name": "承办",
                "department": "自然资源局",
                "item_case_no": "N2",
                "limit": {"value": 4, "unit": "WH"},
                "opened_at": local("2026-09-30 10:00").isoformat(),
            },
        )
        (step,) = await bus.wait("ClockStarted", clock_id=step_id)
        assert (step["purpose"], step["promised_deadline"]) == ("环节", local("2026-09-30 15:30").isoformat())

        # 特别程序 from 13:30 to 15:30 on 09-30 holds the case's and the step's clocks: 2 working hours.
        await bus.send(
            topics.ROUTING_EVENTS,
            "SpecialProcedureStarted",
            case_id,
            {
                "case_no": "N2",
                "step_id": step_id,
                "kind": "检验",
                "reason": "送检",
                "started_at": local("2026-09-30 13:30").isoformat(),
            },
        )
        assert len(await bus.wait("ClockPaused", 2, pause_id=f"特别程序:{step_id}")) == 2
        clock.set(local("2026-10-09 12:00"))  # long after both deadlines: a paused clock raises nothing
        await asyncio.sleep(1.0)
        assert bus.of("ClockAlerted", level="逾期") == []
        clock.set(local("2026-10-08 08:00"))
        await bus.send(
            topics.ROUTING_EVENTS,
            "SpecialProcedureEnded",
            case_id,
            {
                "case_no": "N2",
                "step_id": step_id,
                "kind": "检验",
                "result": "合格",
                "ended_at": local("2026-09-30 15:30").isoformat(),
            },
        )
        (case_resumed,) = await bus.wait("ClockResumed", clock_id=case_id)
        assert case_resumed["promised_deadline"] == local("2026-10-09 11:00").isoformat()
        (step_resumed,) = await bus.wait("ClockResumed", clock_id=step_id)
        assert step_resumed["promised_deadline"] == local("2026-09-30 17:30").isoformat()

        # 延长 by 2 WD, named by the step and the case number (routing's clock_ids). Extensions count from the
        # base deadline (10-08 17:30 + 2 WD = 10-10 17:30, a worked Saturday), then the pauses move it (2 h).
        await bus.send(
            topics.ROUTING_EVENTS,
            "ExtensionApproved",
            case_id,
            {
                "case_no": "N2",
                "step_id": step_id,
                "clock_ids": [step_id, "N2"],
                "extension": {"value": 2, "unit": "WD"},
                "approved_at": local("2026-10-08 09:00").isoformat(),
            },
        )
        (case_extended,) = await bus.wait("ClockExtended", clock_id=case_id)
        assert case_extended["promised_deadline"] == local("2026-10-12 11:00").isoformat()
        await bus.wait("ClockExtended", clock_id=step_id)
        await asyncio.sleep(0.5)
        assert bus.of("ClockAlerted", clock_id=case_id) == []

        # 退回 holds the case clock until StepResumed.
        await bus.send(
            topics.ROUTING_EVENTS,
            "StepDecided",
            case_id,
            {
                "case_no": "N2",
                "step_id": step_id,
                "action": "退回",
                "opinion": "缺身份证明",
                "decided_at": local("2026-10-09 13:30").isoformat(),
            },
        )
        await bus.wait("ClockPaused", 2, pause_id=f"退回:{step_id}")
        await bus.send(
            topics.ROUTING_EVENTS,
            "StepResumed",
            case_id,
            {"step_id": step_id, "resumed_at": local("2026-10-09 14:30").isoformat()},
        )
        (again,) = await bus.wait("ClockResumed", clock_id=case_id, pause_id=f"退回:{step_id}")
        assert again["promised_deadline"] == local("2026-10-12 12:00").isoformat()  # one more working hour
    finally:
        await halt(timing)


async def test_a_requested_deadline_is_capped_and_withdrawn(ns: HallSettings, bus: Bus) -> None:
    clock = ManualClock(local("2026-09-30 10:00"))
    timing = await running(ns, clock)
    try:
        case_id = uuid.uuid4().hex
        await bus.send(
            topics.INTAKE_EVENTS,
            "CaseAccepted",
            case_id,
            accepted("N3", "2026-09-30 10:00", {"value": 2, "unit": "WD"}),
        )
        await bus.wait("ClockStarted", clock_id=case_id)
        await bus.send(
            topics.INTAKE_EVENTS,
            "ClockRequested",
            case_id,
            {
                "clock_id": f"{case_id}:补齐",
                "purpose": "补齐",
                "case_no": "N3",
                "department": "自然资源局",
                "starts_at": local("2026-09-30 10:00").isoformat(),
                "limit": {"value": 5, "unit": "WD"},
            },
        )
        (supplement,) = await bus.wait("ClockStarted", clock_id=f"{case_id}:补齐")
        # 5 WD would end 10-14; 补齐 is capped by the case's promised deadline (2 WD: 10-09 17:30).
        assert supplement["promised_deadline"] == local("2026-10-09 17:30").isoformat()
        await bus.send(
            topics.EVALUATION_EVENTS,
            "ClockRequested",
            case_id,
            {
                "clock_id": f"{case_id}:评价期",
                "purpose": "评价期",
                "case_no": "N3",
                "department": "自然资源局",
                "starts_at": local("2026-09-30 10:00").isoformat(),
                "limit": {"value": 7, "unit": "ND"},
            },
        )
        (window,) = await bus.wait("ClockStarted", clock_id=f"{case_id}:评价期")
        assert window["promised_deadline"] == local("2026-10-08 17:30").isoformat()  # 10-07 is a holiday
        await bus.send(
            topics.INTAKE_EVENTS,
            "ClockWithdrawn",
            case_id,
            {"clock_id": f"{case_id}:补齐", "purpose": "补齐", "case_no": "N3"},
        )
        (withdrawn,) = await bus.wait("ClockStopped", clock_id=f"{case_id}:补齐")
        assert withdrawn["reason"] == "撤回"
        clock.set(local("2026-10-10 09:00"))
        await bus.wait("ClockAlerted", clock_id=f"{case_id}:评价期", level="逾期")
        await asyncio.sleep(0.5)
        assert bus.of("ClockAlerted", clock_id=f"{case_id}:补齐", level="逾期") == []
    finally:
        await halt(timing)


async def test_a_year_without_a_schedule_is_provisional_until_an_operator_loads_it(ns: HallSettings, bus: Bus) -> None:
    clock = ManualClock(local("2026-12-30 10:00"))
    timing = await running(ns, clock)
    redis = Redis.from_url(ns.redis_url)
    try:
        early, late = uuid.uuid4().hex, uuid.uuid4().hex
        await bus.send(
            topics.INTAKE_EVENTS, "CaseAccepted", early, accepted("N4", "2026-12-30 10:00", {"value": 3, "unit": "WD"})
        )
        (started,) = await bus.wait("ClockStarted", clock_id=early)
        assert started["promised_deadline"] == local("2027-01-05 17:30").isoformat()  # 2027-01-01 元旦 off
        assert started["provisional"] is True
        assert started["provisional_years"] == [2027]
        assert bus.of("ClockRefused") == []

        await store_year(redis, Keys(ns), read_year_file(EXAMPLE_2027))
        (revised,) = await bus.wait("DeadlineRevised", clock_id=early)
        assert revised["year"] == 2027
        assert revised["provisional"] is False
        assert revised["old_promised_deadline"] == revised["promised_deadline"]  # the example keeps 01-01..03

        await bus.send(
            topics.INTAKE_EVENTS, "CaseAccepted", late, accepted("N5", "2026-12-30 10:00", {"value": 3, "unit": "WD"})
        )
        (official,) = await bus.wait("ClockStarted", clock_id=late)
        assert official["promised_deadline"] == local("2027-01-05 17:30").isoformat()
        assert official["provisional"] is False
    finally:
        await redis.aclose()
        await halt(timing)


async def test_two_instances_raise_each_level_of_each_clock_exactly_once(ns: HallSettings, bus: Bus) -> None:
    clock = ManualClock(local("2026-09-30 10:00"))
    first, second = await running(ns, clock), await running(ns, clock)
    try:
        ids = [uuid.uuid4().hex for _ in range(120)]
        for n, case_id in enumerate(ids):
            await bus.send(
                topics.INTAKE_EVENTS,
                "ClockRequested",
                case_id,
                {
                    "clock_id": case_id,
                    "purpose": "整改",
                    "case_no": f"R{n}",
                    "starts_at": local("2026-09-30 10:00").isoformat(),
                    "limit": {"value": 1 + n % 5, "unit": "WH"},
                },
            )
        await bus.wait("ClockStarted", len(ids), timeout_s=60)
        clock.set(local("2026-10-20 10:00"))  # every level of every clock is due: 预警, 逾期, 督办, 通报
        await bus.wait("ClockAlerted", 4 * len(ids), timeout_s=60)
        await asyncio.sleep(1.0)
        raised = [(a["clock_id"], a["level"]) for a in bus.of("ClockAlerted")]
        assert len(raised) == len(set(raised)) == 4 * len(ids)
    finally:
        await halt(first)
        await halt(second)


async def test_wiped_state_comes_back_from_timings_own_log(ns: HallSettings, bus: Bus) -> None:
    clock = ManualClock(local("2026-09-30 10:00"))
    timing = await running(ns, clock)
    case_id = uuid.uuid4().hex
    try:
        await bus.send(
            topics.INTAKE_EVENTS,
            "CaseAccepted",
            case_id,
            accepted("N6", "2026-09-30 10:00", {"value": 1, "unit": "WD"}),
        )
        await bus.wait("ClockStarted", clock_id=case_id)
        await bus.send(
            topics.INTAKE_EVENTS,
            "CaseSuspended",
            case_id,
            {"case_no": "N6", "reason": "容缺材料逾期未补齐", "suspended_at": local("2026-09-30 13:30").isoformat()},
        )
        await bus.wait("ClockPaused", clock_id=case_id)
        await bus.send(
            topics.INTAKE_EVENTS,
            "MaterialsSupplemented",
            case_id,
            {"case_no": "N6", "complete": True, "supplemented_at": local("2026-09-30 15:30").isoformat()},
        )
        (resumed,) = await bus.wait("ClockResumed", clock_id=case_id)
        assert resumed["promised_deadline"] == local("2026-10-09 11:00").isoformat()
        clock.set(local("2026-10-09 09:00"))
        await bus.wait("ClockAlerted", clock_id=case_id, level="预警")
    finally:
        await halt(timing)

    redis = Redis.from_url(ns.redis_url)
    try:
        keys = [key async for key in redis.scan_iter(match=Keys(ns).pattern, count=1000)]
        await redis.delete(*keys)
        clock.set(local("2026-10-09 12:00"))
        timing = await running(ns, clock)
        try:
            (overdue,) = await bus.wait("ClockAlerted", clock_id=case_id, level="逾期")
            assert overdue["deadline"] == local("2026-10-09 11:00").isoformat()
            await asyncio.sleep(1.0)
            assert [a["level"] for a in bus.of("ClockAlerted", clock_id=case_id)] == ["预警", "逾期"]
            # The rebuilt clock still stops, with its one pause in the ledger.
            await bus.send(
                topics.ROUTING_EVENTS,
                "CaseCompleted",
                case_id,
                {"case_no": "N6", "completed_at": local("2026-10-09 12:00").isoformat()},
            )
            await bus.wait("ClockStopped", clock_id=case_id)
            assert len(bus.of("ClockPaused", clock_id=case_id)) == 1
        finally:
            await halt(timing)
    finally:
        await redis.aclose()


async def test_redelivered_inputs_after_a_wipe_change_nothing(ns: HallSettings, bus: Bus) -> None:
    clock = ManualClock(local("2026-09-30 10:00"))
    case_id = uuid.uuid4().hex
    timing = await running(ns, clock)
    try:
        accepted_id = await bus.send(
            topics.INTAKE_EVENTS,
            "CaseAccepted",
            case_id,
            accepted("N7", "2026-09-30 10:00", {"value": 1, "unit": "WD"}),
        )
        suspended_id = await bus.send(
            topics.INTAKE_EVENTS,
            "CaseSuspended",
            case_id,
            {"case_no": "N7", "suspended_at": local("2026-09-30 13:30").isoformat()},
        )
        await bus.wait("ClockPaused", clock_id=case_id)
    finally:
        await halt(timing)
    redis = Redis.from_url(ns.redis_url)
    try:
        await redis.delete(*[key async for key in redis.scan_iter(match=Keys(ns).pattern, count=1000)])
    finally:
        await redis.aclose()
    timing = await running(ns, clock)
    try:
        # As if the consumer's offsets had not been committed: both come again, with the same ids.
        await bus.send(
            topics.INTAKE_EVENTS,
            "CaseAccepted",
            case_id,
            accepted("N7", "2026-09-30 10:00", {"value": 1, "unit": "WD"}),
            event_id=accepted_id,
        )
        await bus.send(
            topics.INTAKE_EVENTS,
            "CaseSuspended",
            case_id,
            {"case_no": "N7", "suspended_at": local("2026-09-30 13:30").isoformat()},
            event_id=suspended_id,
        )
        await bus.send(
            topics.INTAKE_EVENTS,
            "MaterialsSupplemented",
            case_id,
            {"case_no": "N7", "complete": True, "supplemented_at": local("2026-09-30 14:30").isoformat()},
        )
        await bus.wait("ClockResumed", clock_id=case_id)
        assert len(bus.of("ClockStarted", clock_id=case_id)) == 1
        assert len(bus.of("ClockPaused", clock_id=case_id)) == 1
    finally:
        await halt(timing)


async def test_a_bundles_children_run_their_own_clocks_and_later_stages_wait(ns: HallSettings, bus: Bus) -> None:
    clock = ManualClock(local("2026-09-30 10:00"))
    timing = await running(ns, clock)
    try:
        case_id = uuid.uuid4().hex
        children = [
            {
                "case_no": "B1-1",
                "item_code": "I1",
                "item_name": "用地规划许可",
                "department": "自然资源局",
                "stage": 1,
                "promised_limit": {"value": 5, "unit": "WD"},
            },
            {
                "case_no": "B1-2",
                "item_code": "I2",
                "item_name": "施工许可",
                "department": "住建局",
                "stage": 2,
                "stage_name": "工程建设许可",
                "promised_limit": {"value": 3, "unit": "WD"},
            },
        ]
        await bus.send(
            topics.INTAKE_EVENTS,
            "CaseAccepted",
            case_id,
            accepted("B1", "2026-09-30 10:00", {"value": 20, "unit": "WD"}, children=children),
        )
        (first,) = await bus.wait("ClockStarted", clock_id="B1-1")
        assert (first["purpose"], first["department"]) == ("子件", "自然资源局")
        assert first["promised_deadline"] == local("2026-10-13 17:30").isoformat()  # 10-10 is worked
        (waiting,) = await bus.wait("ClockPaused", clock_id="B1-2")
        assert "等待前序阶段" in waiting["reason"]

        # The second stage opens with its first step: its clock runs from then.
        await bus.send(
            topics.ROUTING_EVENTS,
            "StepOpened",
            case_id,
            {
                "case_no": "B1",
                "step_id": f"{case_id}-2-1",
                "step_name": "承办",
                "department": "住建局",
                "item_case_no": "B1-2",
                "limit": {"value": 1, "unit": "WD"},
                "opened_at": local("2026-10-09 09:00").isoformat(),
            },
        )
        (resumed,) = await bus.wait("ClockResumed", clock_id="B1-2")
        # Held from 09-30 10:00 to 10-09 09:00 (6 + 7 working hours): 3 WD (10-10 17:30) moved by 13 h.
        assert resumed["promised_deadline"] == local("2026-10-13 16:30").isoformat()
        (step,) = await bus.wait("ClockStarted", clock_id=f"{case_id}-2-1")
        assert (step["parent"], step["step_name"]) == ("B1-2", "承办")

        await bus.send(
            topics.ROUTING_EVENTS,
            "ChildCompleted",
            case_id,
            {"case_no": "B1", "child_case_no": "B1-1", "completed_at": local("2026-10-09 10:00").isoformat()},
        )
        (child_done,) = await bus.wait("ClockStopped", clock_id="B1-1")
        assert child_done["on_time"] is True
        await bus.send(
            topics.ROUTING_EVENTS,
            "CaseCompleted",
            case_id,
            {"case_no": "B1", "completed_at": local("2026-10-12 10:00").isoformat()},
        )
        for clock_id in (case_id, "B1-2", f"{case_id}-2-1"):
            await bus.wait("ClockStopped", clock_id=clock_id)
    finally:
        await halt(timing)
