"""A consumer whose group heartbeat stopped is reported unhealthy and rejoins its group by itself, on the real Kafka.

aiokafka ends a consumer's heartbeat task on a heartbeat answer it does not expect (after a broker restart, the
coordinator may answer that it is still loading) and starts it again only on a rejoin, which nothing asks for:
the broker drops the member on heartbeat expiration while the consumer goes on fetching its old assignment. The
heartbeat is made to fail the way aiokafka fails on such an answer; nothing is stopped or killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from shared.offsets import OffsetBook
from shared.settings import HallSettings

pytestmark = pytest.mark.integration


async def until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.1)


async def one_topic_and_its_group(settings: HallSettings, kind: str) -> tuple[str, AIOKafkaConsumer]:
    """A new one-partition topic and a consumer of a group of its own (heartbeat every 0.5 s), not started."""
    topic = f"{settings.namespace}.{kind}.{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    await admin.close()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"{topic}.group",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        heartbeat_interval_ms=500,
    )
    return topic, consumer


async def test_a_consumer_whose_heartbeat_stopped_rejoins_and_commits_again(settings: HallSettings) -> None:
    topic, consumer = await one_topic_and_its_group(settings, "membership")
    book = OffsetBook(stall_s=3.0)
    book.consumer_source = lambda: consumer
    consumer.subscribe([topic], listener=book.listener())
    await consumer.start()
    book.start()
    handled: list[int] = []
    errors: list[str] = []

    async def poll() -> None:  # as FastStream's consume loop does: a Kafka error is logged, the loop goes on
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=200)
            except KafkaError as exc:
                errors.append(repr(exc))
                await asyncio.sleep(0.2)
                continue
            for records in batches.values():
                for record in records:
                    handled.append(record.offset)
                    book.done(consumer, record)

    poller = asyncio.create_task(poll())
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        await until(lambda: book.rebalances == 1, 30, "the consumer joins its group")
        coordinator = consumer._coordinator
        heartbeat = coordinator._do_heartbeat

        async def unexpected_answer() -> bool:
            # What aiokafka's _do_heartbeat raises for an error code it does not handle.
            raise KafkaError("Unexpected exception in heartbeat task: CoordinatorLoadInProgressError")

        coordinator._do_heartbeat = unexpected_answer
        await until(lambda: book.heartbeat_failure() is not None, 10, "the heartbeat task ends")
        coordinator._do_heartbeat = heartbeat
        problem = book.problem()
        assert problem is not None
        assert "heartbeat stopped" in problem  # /health says so

        await until(lambda: book.rebalances == 2, 20, "the consumer rejoins its group")
        assert book.rejoins == 1
        await until(lambda: book.heartbeat_failure() is None, 10, "a new heartbeat task")
        assert book.problem() is None

        await producer.send_and_wait(topic, b"after the rejoin")
        await until(lambda: handled == [0], 20, "the record after the rejoin is handled")
        partition = TopicPartition(topic, 0)

        async def committed() -> int | None:
            offset: int | None = await consumer.committed(partition)
            return offset

        for _ in range(50):
            if await committed() == 1:
                break
            await asyncio.sleep(0.2)
        assert await committed() == 1  # commits move again
    finally:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        await producer.stop()
        await book.stop()
        await consumer.stop()


async def test_a_consumer_whose_group_coordination_ended_is_reported_and_handed_to_a_restart(
    settings: HallSettings,
) -> None:
    """aiokafka's coordination routine ends for good on an error it does not expect: under uvloop, a write to the
    connection a killed broker closed raised RuntimeError("the handler is closed") in a chaos run, and routing
    fetched nothing for five minutes. The routine is made to meet that error on the real Kafka; the book reports
    it and calls for a restart once (a rejoin cannot mend it)."""
    topic, consumer = await one_topic_and_its_group(settings, "coordination")
    book = OffsetBook(stall_s=3.0)
    book.consumer_source = lambda: consumer
    broken: list[str] = []
    book.on_broken = broken.append
    consumer.subscribe([topic], listener=book.listener())
    await consumer.start()
    book.start()
    try:
        await until(lambda: book.rebalances == 1, 30, "the consumer joins its group")
        assert book.coordination_failure() is None
        coordinator = consumer._coordinator

        async def closed_transport() -> None:
            raise RuntimeError("unable to perform operation on <TCPTransport closed=True>; the handler is closed")

        coordinator.ensure_coordinator_known = closed_transport
        coordinator.coordinator_dead()  # what a connection error to the coordinator does; the routine looks again
        await until(lambda: book.coordination_failure() is not None, 10, "the coordination routine ends")
        with pytest.raises(KafkaError, match="Unexpected error during coordination"):
            await consumer.getmany(timeout_ms=500)  # the consumer is beyond repair: every fetch raises
        problem = book.problem()
        assert problem is not None
        assert "group coordination ended" in problem
        await until(lambda: len(broken) == 1, 5, "a restart is called for")
        assert "the handler is closed" in broken[0]
        await asyncio.sleep(1.0)
        assert len(broken) == 1  # once, not at every flush
        assert book.rejoins == 0
    finally:
        await book.stop()
        with contextlib.suppress(Exception):
            await consumer.stop()
