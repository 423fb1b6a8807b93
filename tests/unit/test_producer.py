"""The healing producer (shared/producer.py): a wedged producer is recreated, publishes are bounded.

aiokafka's producer is replaced here by a scripted stand-in (no I/O); the real broker's side of it (Kafka
stopped for a minute, OutOfOrderSequenceNumber afterwards) is tests/e2e/test_kafka_outage.py.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
)
from faststream.kafka import KafkaBroker

from shared.producer import HealingProducer, OutRecord, ProducerNotReady, PublishTimeout, install

TOPIC = "t.unit"


class Kafka:
    """What the stand-in producers see: whether the broker is up, and what it has."""

    def __init__(self) -> None:
        self.up = True
        self.log: list[tuple[int, bytes]] = []  # (producer number, value)
        self.fail_next: BaseException | None = None
        self.hang_sends = False


class FakeSender:
    async def close(self) -> None:
        return None


class FakeAccumulator:
    def __init__(self) -> None:
        self.pending: list[asyncio.Future[Any]] = []

    def fail_all(self, exc: BaseException) -> None:
        for future in self.pending:
            if not future.done():
                future.set_exception(exc)


class FakeProducer:
    """Stands in for AIOKafkaProducer: start asks for a producer id, send returns a future."""

    count = 0

    def __init__(self, kafka: Kafka) -> None:
        FakeProducer.count += 1
        self.number = FakeProducer.count
        self.kafka = kafka
        self.started = False
        self.stopped = False
        self.fatal: BaseException | None = None  # what aiokafka's accumulator keeps after its sender died
        self._sender = FakeSender()
        self._message_accumulator = FakeAccumulator()
        self.client = self

    async def start(self) -> None:
        if not self.kafka.up:
            raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 1)]")
        self.started = True

    async def stop(self) -> None:
        self.stopped = True
        self._message_accumulator.fail_all(ProducerClosed())

    async def close(self) -> None:
        return None

    async def send(self, topic: str, value: bytes, **_: Any) -> asyncio.Future[Any]:  # noqa: ARG002 (aiokafka's)
        if self.fatal is not None:
            raise self.fatal
        if self.kafka.hang_sends:
            await asyncio.Event().wait()  # waiting for metadata from a broker that is gone
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._message_accumulator.pending.append(future)
        if self.kafka.fail_next is not None:
            exc, self.kafka.fail_next = self.kafka.fail_next, None
            if isinstance(exc, OutOfOrderSequenceNumber):
                self.fatal = exc  # the sender died: every later send fails the same way
            future.set_exception(exc)
        elif self.kafka.up:
            self.kafka.log.append((self.number, value))
            future.set_result(None)
        return future


async def started(kafka: Kafka) -> tuple[KafkaBroker, HealingProducer]:
    broker = KafkaBroker("127.0.0.1:1")
    producer = install(broker, lambda: FakeProducer(kafka), "unit")
    await producer.connect(FakeProducer(kafka), serializer=None)
    return broker, producer


def records(*values: bytes) -> list[OutRecord]:
    return [OutRecord(TOPIC, b"case-1", value) for value in values]


async def eventually(check: Any, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_out_of_order_sequence_recreates_the_producer_and_the_retry_goes_through() -> None:
    kafka = Kafka()
    broker, producer = await started(kafka)
    await producer.send_all(broker, records(b"a"), within=2.0)
    first = producer._current
    kafka.fail_next = OutOfOrderSequenceNumber()
    with pytest.raises(OutOfOrderSequenceNumber):
        await producer.send_all(broker, records(b"b"), within=2.0)
    assert "OutOfOrderSequenceNumber" in (producer.problem() or "")
    await eventually(lambda: producer.generation == 1)
    # The same record again (the outbox re-publishes it with the same event id): it goes through a new producer.
    await producer.send_all(broker, records(b"b"), within=2.0)
    assert [value for _, value in kafka.log] == [b"a", b"b"]
    assert kafka.log[0][0] != kafka.log[1][0], "the retry went through the wedged producer"
    assert first is not None
    assert first.stopped, "the wedged producer was not stopped"
    assert producer.problem() is None
    await producer.disconnect()


async def test_a_wedged_producer_heals_without_any_other_publish() -> None:
    """Old behaviour: every later send failed with the same error until a restart."""
    kafka = Kafka()
    broker, producer = await started(kafka)
    kafka.fail_next = OutOfOrderSequenceNumber()
    with pytest.raises(OutOfOrderSequenceNumber):
        await producer.send_all(broker, records(b"x"), within=2.0)
    await eventually(lambda: producer.problem() is None)
    assert producer.resets == 1
    for value in (b"1", b"2", b"3"):
        await producer.send_all(broker, records(value), within=2.0)
    assert [value for _, value in kafka.log] == [b"1", b"2", b"3"]
    await producer.disconnect()


async def test_while_kafka_is_away_publishes_fail_within_the_bound_and_heal_when_it_is_back() -> None:
    kafka = Kafka()
    broker, producer = await started(kafka)
    kafka.up = False
    kafka.fail_next = KafkaTimeoutError()  # a batch expired during the outage
    with pytest.raises(KafkaTimeoutError):
        await producer.send_all(broker, records(b"lost"), within=2.0)
    await asyncio.sleep(0.05)  # the first attempt at a new producer fails: Kafka is known to be away
    for _ in range(3):  # callers are refused at once, not after their whole bound, and never hung
        started_at = time.monotonic()
        with pytest.raises(ProducerNotReady):
            await producer.send_all(broker, records(b"again"), within=2.0)
        assert time.monotonic() - started_at < 0.1
        assert "recreating" in (producer.problem() or "")
    kafka.up = True
    await eventually(lambda: producer.problem() is None, within=10.0)
    await producer.send_all(broker, records(b"again"), within=2.0)
    assert [value for _, value in kafka.log] == [b"again"]
    assert producer.resets == 1, "several failures during one outage make one reset"
    await producer.disconnect()


async def test_a_send_that_hangs_is_cut_at_the_bound_and_reported() -> None:
    kafka = Kafka()
    broker, producer = await started(kafka)
    kafka.hang_sends = True
    started_at = time.monotonic()
    with pytest.raises(PublishTimeout):
        await producer.send_all(broker, records(b"slow"), within=0.5)
    assert time.monotonic() - started_at < 1.5
    assert producer.problem() is not None
    kafka.hang_sends = False
    await eventually(lambda: producer.problem() is None)  # recreated once Kafka answers: ready without traffic
    await producer.send_all(broker, records(b"fast"), within=2.0)
    assert [value for _, value in kafka.log] == [b"fast"]
    await producer.disconnect()


async def test_a_record_too_large_is_refused_without_recreating_the_producer() -> None:
    kafka = Kafka()
    broker, producer = await started(kafka)
    kafka.fail_next = MessageSizeTooLargeError()
    with pytest.raises(MessageSizeTooLargeError):
        await producer.send_all(broker, records(b"big"), within=2.0)
    await asyncio.sleep(0.2)
    assert producer.resets == 0
    assert producer.problem() is None
    await producer.disconnect()


async def test_a_retired_producers_failures_do_not_make_the_new_one_unhealthy() -> None:
    kafka = Kafka()
    broker, producer = await started(kafka)
    old = producer._current
    assert old is not None
    kafka.up = False
    pending = await broker.publish(b"held", topic=TOPIC, no_confirm=True)  # Kafka away: not acknowledged
    producer.reset("test")
    kafka.up = True
    await eventually(lambda: producer.generation == 1)
    await eventually(pending.done)  # the retired producer fails what it still held
    assert isinstance(pending.exception(), ProducerClosed)
    await asyncio.sleep(0.1)
    assert producer.resets == 1
    assert producer.problem() is None
    await producer.disconnect()
