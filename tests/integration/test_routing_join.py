"""The bundle join through routing's real handlers and the real outbox on Redis: decisions in every order,
commands sent twice, and records redelivered (the same envelope again, as after a crash before the offset
commit) end in one completion per child, one for the case and one delivery — and a redelivery re-publishes
exactly what the first handling published."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, cast

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from services.routing.app import build
from services.routing.messages import CaseAccepted, Child, DecideStep, Limit, RecordDelivery
from shared.envelope import Actor, Envelope, decode, wrap
from shared.kafka import ServiceRuntime
from shared.outbox import Outgoing, run_once
from shared.replies import decode_reply
from shared.settings import HallSettings

pytestmark = pytest.mark.integration

DEPARTMENTS = ["市场监管局", "公安局", "税务局", "人社局"]
CLERK = Actor(kind="clerk", id="clerk-zhang", name="张敏")


class Handled(msgspec.Struct):
    """What one record's handling published, decoded: events by type, and the reply's status."""

    events: list[Envelope]
    status: int | None


@pytest.fixture(scope="module")
async def redis(settings: HallSettings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    try:
        yield client
    finally:
        await client.aclose()


class Routing:
    """Routing's consume path without Kafka: decode, route, and run once per event id on the real Redis."""

    def __init__(self, settings: HallSettings, redis: Redis) -> None:
        self.runtime: ServiceRuntime = build(settings)
        self.redis = redis
        self.settings = settings
        self.first: dict[str, list[Outgoing]] = {}

    async def handle(self, envelope: Envelope) -> Handled:
        # Commands and events have consumers (and tables) of their own.
        tables = [table for _, each in self.runtime.subscriptions for table in each]
        routes = [table[envelope.type] for table in tables if envelope.type in table]
        payloads = [msgspec.json.decode(envelope.payload, type=route.payload) for route in routes]
        marker = self.settings.key("routing", "done", envelope.event_id)

        async def run(txn: object) -> None:
            for route, payload in zip(routes, payloads, strict=True):
                await route.handler(envelope, payload, txn)  # type: ignore[arg-type]

        outgoing = await run_once(self.redis, marker, envelope, run, self.runtime.publications)
        if envelope.event_id in self.first:  # a redelivery publishes exactly what the first handling did
            assert outgoing == self.first[envelope.event_id]
        self.first.setdefault(envelope.event_id, outgoing)
        replies = [decode_reply(o.value) for o in outgoing if o.topic.endswith("gateway.replies")]
        events = [decode(o.value) for o in outgoing if o.topic.endswith("routing.events")]
        return Handled(events=events, status=replies[0].status if replies else None)

    async def state(self, case_id: str) -> bytes | None:
        return cast("bytes | None", await self.redis.get(self.settings.key("routing", "case", case_id)))


def open_steps(published: dict[str, Envelope]) -> list[dict[str, Any]]:
    """The steps opened and not yet decided, from what routing published so far."""
    payloads = [(e.type, msgspec.json.decode(e.payload)) for e in published.values()]
    decided = {p["step_id"] for kind, p in payloads if kind == "StepDecided.v1"}
    return [p for kind, p in payloads if kind == "StepOpened.v1" and p["step_id"] not in decided]


def accepted(case_id: str, size: int) -> Envelope:
    children = [
        Child(
            case_no=f"{case_id}-{n}",
            item_code=f"ITEM{n}",
            item_name=f"子项{n}",
            department=department,
            promised_limit=Limit(0.5, "WD"),
        )
        for n, department in enumerate(DEPARTMENTS[:size], start=1)
    ]
    event = CaseAccepted(
        case_no=f"NO-{case_id}", item_name="企业开办", departments=DEPARTMENTS[:size], children=children
    )
    return wrap(event, case_id=case_id, actor=CLERK, occurred_at=datetime(2026, 3, 2, 1, 30, tzinfo=UTC))


def staff_of(department: str, seq: int = 1) -> Actor:
    """岗位分离: a different person of the department for each of 承办, 审核 and 决定."""
    return Actor(kind="staff", id=f"{department}-staff-{seq}", name=f"{department}经办人{seq}")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), size=st.integers(3, 4))
async def test_every_order_with_duplicates_and_redeliveries_completes_and_delivers_once(
    hall_settings: HallSettings, redis: Redis, data: st.DataObject, size: int
) -> None:
    routing = Routing(hall_settings, redis)
    case_id = uuid.uuid4().hex
    handled: list[Envelope] = []
    published: dict[str, Envelope] = {}  # by event id: what downstream consumers see after their own dedup

    async def send(envelope: Envelope) -> Handled:
        result = await routing.handle(envelope)
        handled.append(envelope)
        published.update((e.event_id, e) for e in result.events)
        return result

    await send(accepted(case_id, size))
    while opened := open_steps(published):
        what = data.draw(st.sampled_from(["decide", "decide", "redeliver", "twice"]), label="what")
        if what == "redeliver":
            again = data.draw(st.sampled_from(handled), label="redelivered")
            before = await routing.state(case_id)
            await routing.handle(again)  # the same envelope: the same records again, nothing changed
            assert await routing.state(case_id) == before
            continue
        step = data.draw(st.sampled_from(sorted(opened, key=lambda s: s["step_id"])), label="step")
        command = DecideStep(step_id=step["step_id"], action="通过", opinion="同意", department=step["department"])
        envelope = wrap(command, case_id=case_id, actor=staff_of(step["department"], step["seq"]))
        assert (await send(envelope)).status == 200
        if what == "twice":  # the same decision sent again as a new command (a double click): refused
            second = wrap(command, case_id=case_id, actor=staff_of(step["department"], step["seq"]))
            result = await send(second)
            assert result.status == 409
            assert result.events == []
    for _ in range(data.draw(st.integers(1, 3), label="deliveries")):
        await send(wrap(RecordDelivery(method="窗口"), case_id=case_id, actor=CLERK))
    for again in data.draw(st.lists(st.sampled_from(handled), max_size=5), label="late redeliveries"):
        await routing.handle(again)

    counts = Counter(e.type for e in published.values())
    assert counts["CaseCompleted.v1"] == 1
    assert counts["CaseDelivered.v1"] == 1
    assert counts["ChildCompleted.v1"] == size
    assert counts["StepOpened.v1"] == counts["StepDecided.v1"] == 3 * size
    children = [
        msgspec.json.decode(e.payload)["child_case_no"] for e in published.values() if e.type == "ChildCompleted.v1"
    ]
    assert sorted(children) == [f"{case_id}-{n}" for n in range(1, size + 1)]


@pytest.fixture(scope="module")
def hall_settings(settings: HallSettings) -> HallSettings:
    """Routing's keys in a namespace of their own inside the session's (cleaned up with it)."""
    return msgspec.structs.replace(settings, namespace=f"{settings.namespace}j")
