"""Only offsets of records whose effects are done are committed, on the real Kafka."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.offsets import OffsetBook
from shared.settings import HallSettings

pytestmark = pytest.mark.integration


async def test_the_book_commits_what_is_done_and_nothing_beyond(settings: HallSettings) -> None:
    topic = f"{settings.namespace}.offsets.{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    for n in range(3):
        await producer.send_and_wait(topic, f"record {n}".encode())
    await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"{topic}.group",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    book = OffsetBook()
    try:
        records = [await consumer.getone() for _ in range(3)]
        partition = TopicPartition(topic, 0)
        book.done(consumer, records[0])
        book.done(consumer, records[1])  # the third is still being handled
        await book.flush()
        assert await consumer.committed(partition) == records[1].offset + 1
        await book.flush()  # nothing new is done: nothing changes
        assert await consumer.committed(partition) == records[1].offset + 1
        book.done(consumer, records[2])
        await book.stop()
        assert await consumer.committed(partition) == records[2].offset + 1
    finally:
        await consumer.stop()
