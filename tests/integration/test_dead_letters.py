"""A record a service cannot handle goes to the dead-letter topic with its reason; the consumer carries on."""

from __future__ import annotations

import asyncio
import uuid

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared import topics
from shared.deadletter import DeadLetter, decode_dead_letter
from shared.envelope import Actor, encode, wrap
from shared.settings import HallSettings
from tests.integration.conftest import InProcessHall
from tests.journeys import APPLICATION, CLERK, CLERK_ID

pytestmark = pytest.mark.integration


class NotAnApplication(msgspec.Struct, frozen=True):
    """Carries the tag of an application without its fields."""

    colour: str


async def dead_letters(settings: HallSettings, wanted: set[bytes], timeout_s: float = 20.0) -> list[DeadLetter]:
    consumer = AIOKafkaConsumer(
        settings.topic(topics.DEAD_LETTERS),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[DeadLetter] = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(found) < len(wanted):
                async for record in consumer:
                    letter = decode_dead_letter(record.value)
                    if letter.value in wanted:
                        found.append(letter)
                        break
    finally:
        await consumer.stop()
    return found


async def test_malformed_records_are_dead_lettered_and_the_next_one_is_handled(
    hall: InProcessHall, settings: HallSettings
) -> None:
    # The next application's key, computed as the gateway does for an Idempotency-Key, so the poison records
    # land on the same partition before it.
    idempotency_key = f"after-poison-{uuid.uuid4()}"
    case_id = uuid.uuid5(uuid.NAMESPACE_OID, f"{settings.namespace}:{CLERK_ID}:{idempotency_key}").hex
    garbage = f"not an envelope {uuid.uuid4()}".encode()
    wrong = wrap(NotAnApplication("red"), case_id=case_id, actor=Actor(kind="kiosk", id="kiosk-01"))
    wrong = msgspec.structs.replace(wrong, type="SubmitApplication.v1")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic(topics.INTAKE_COMMANDS), garbage, key=case_id.encode())
        await producer.send_and_wait(settings.topic(topics.INTAKE_COMMANDS), encode(wrong), key=case_id.encode())
    finally:
        await producer.stop()

    # The consumer carries on: the next application on the same partition is accepted.
    headers = {**CLERK, "Idempotency-Key": idempotency_key}
    response = await hall.client.post("/api/cases", json=APPLICATION, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["case_id"] == case_id

    letters = {letter.value: letter for letter in await dead_letters(settings, {garbage, encode(wrong)})}
    malformed, invalid = letters[garbage], letters[encode(wrong)]
    assert malformed.service == "intake"
    assert malformed.topic == settings.topic(topics.INTAKE_COMMANDS)
    assert malformed.key == case_id
    assert "malformed envelope" in malformed.reason
    assert "SubmitApplication.v1" in invalid.reason
    assert "item_code" in invalid.reason
