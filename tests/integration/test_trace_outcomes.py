"""What became of each record, on its span (shared/telemetry.py through shared/kafka.py's consume path), on the real
Kafka and Redis: handled, a redelivered event a duplicate in every service, an unreadable command dead-lettered (an
error), a refused command refused; the case number on each, and the trace the record's traceparent names."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from shared import topics
from shared.envelope import decode
from tests.integration.conftest import InProcessHall
from tests.journeys import APPLICATION, CLERK, KIOSK, KIOSK_PROOF
from tests.support import eventually

pytestmark = pytest.mark.integration


def handled_spans(hall: InProcessHall, trace_id: int, topic: str) -> list[ReadableSpan]:
    """The spans of the records of ``topic`` handled in that trace (not those of what they published)."""
    return [
        s
        for s in hall.spans.get_finished_spans()
        if s.context is not None and s.context.trace_id == trace_id and s.kind == SpanKind.CONSUMER
        if (s.attributes or {}).get("messaging.destination.name") == hall.settings.topic(topic)
    ]


def by_service(spans: Sequence[ReadableSpan]) -> dict[str, ReadableSpan]:
    return {str(s.resource.attributes["service.name"]): s for s in spans}


async def published(hall: InProcessHall, topic: str, case_id: str, event_type: str) -> tuple[bytes, bytes]:
    """The key and value of the event as it is in Kafka."""
    consumer = AIOKafkaConsumer(
        hall.settings.topic(topic),
        bootstrap_servers=hall.settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:

        async def probe() -> tuple[bytes, bytes] | None:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    envelope = decode(record.value)
                    if envelope.case_id == case_id and envelope.type == event_type:
                        return record.key, record.value
            return None

        return await eventually(probe, timeout_s=20)
    finally:
        await consumer.stop()


async def send(hall: InProcessHall, topic: str, key: bytes, value: bytes) -> int:
    """Publish with a traceparent of a new trace; returns the trace id."""
    trace_id = random.getrandbits(128) or 1
    traceparent = f"00-{trace_id:032x}-{random.getrandbits(64) or 1:016x}-01".encode()
    producer = AIOKafkaProducer(bootstrap_servers=hall.settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(hall.settings.topic(topic), value, key=key, headers=[("traceparent", traceparent)])
    finally:
        await producer.stop()
    return trace_id


async def test_handled_then_redelivered_is_a_duplicate_in_every_service(hall: InProcessHall) -> None:
    headers = {**CLERK, "Idempotency-Key": f"trace-outcome-{uuid.uuid4()}"}
    answer = await hall.client.post("/api/cases", json=APPLICATION, headers=headers)
    assert answer.status_code == 201, answer.text
    case_id, case_no = answer.json()["case_id"], answer.json()["case_no"]
    key, value = await published(hall, topics.INTAKE_EVENTS, case_id, "CaseAccepted.v1")
    consumers = {"routing", "timing", "evaluation", "gateway"}

    # Its first delivery: handled by each consumer, in the request's trace.
    def first() -> dict[str, ReadableSpan]:
        return {
            str(s.resource.attributes["service.name"]): s
            for s in hall.spans.get_finished_spans()
            if s.kind == SpanKind.CONSUMER
            and (s.attributes or {}).get("hall.case_no") == case_no
            and (s.attributes or {}).get("hall.event_type") == "CaseAccepted.v1"
        }

    async def handled() -> dict[str, ReadableSpan] | None:
        found = first()
        return found if set(found) >= consumers else None

    spans = await eventually(handled)
    assert {name: (s.attributes or {})["hall.outcome"] for name, s in spans.items()} == dict.fromkeys(
        consumers, "handled"
    )

    # The same record again (a redelivery after a crash): every consumer sees it was done, in the new trace.
    again = await send(hall, topics.INTAKE_EVENTS, key, value)

    async def duplicates() -> dict[str, ReadableSpan] | None:
        found = by_service(handled_spans(hall, again, topics.INTAKE_EVENTS))
        return found if set(found) >= consumers else None

    redelivered = await eventually(duplicates)
    for name in consumers:
        attributes = redelivered[name].attributes or {}
        assert (attributes["hall.outcome"], attributes.get("hall.case_no")) == ("duplicate", case_no), (
            name,
            attributes,
        )
        assert attributes["hall.service"] == name


async def test_an_unreadable_command_is_dead_lettered_as_an_error(hall: InProcessHall) -> None:
    trace_id = await send(hall, topics.INTAKE_COMMANDS, uuid.uuid4().hex.encode(), b"not an envelope")

    async def dead() -> ReadableSpan | None:
        return by_service(handled_spans(hall, trace_id, topics.INTAKE_COMMANDS)).get("intake")

    span = await eventually(dead)
    assert (span.attributes or {})["hall.outcome"] == "dead-lettered"
    assert span.status.status_code is StatusCode.ERROR


async def test_a_refused_command_is_refused_on_its_span(hall: InProcessHall) -> None:
    answer = await hall.client.post(
        "/api/cases", json=APPLICATION, headers={**CLERK, "Idempotency-Key": f"refused-{uuid.uuid4()}"}
    )
    case_id, case_no = answer.json()["case_id"], answer.json()["case_no"]
    rating = {"level": "非常满意", "channel": "自助终端", **KIOSK_PROOF}  # of the service at the window (受理)

    async def rate() -> bool | None:  # 404 until the gateway and evaluation know the case
        first = await hall.client.post(f"/api/cases/{case_no}/ratings", json=rating, headers=KIOSK)
        assert first.status_code in (201, 404), first.text
        return True if first.status_code == 201 else None

    await eventually(rate, every_s=0.2)
    again = await hall.client.post(f"/api/cases/{case_no}/ratings", json=rating, headers=KIOSK)
    assert again.status_code == 409, again.text  # rated already

    async def evaluation_span() -> ReadableSpan | None:
        return next(
            (
                s
                for s in hall.spans.get_finished_spans()
                if s.kind == SpanKind.CONSUMER
                and str(s.resource.attributes["service.name"]) == "evaluation"
                and (s.attributes or {}).get("hall.case_id") == case_id  # the command names its case by id
                and (s.attributes or {}).get("hall.outcome") == "refused"
            ),
            None,
        )

    span = await eventually(evaluation_span)
    assert span.status.status_code is not StatusCode.ERROR  # a refusal is an answer, not a failure
