"""Batched consumption in lanes (shared/lanes.py) on the real Kafka and Redis: a key that waits parks only itself,
one key is handled strictly in order while keys run at once, a poison record is dead-lettered while its neighbours
go on, a whole batch delivered again changes nothing, and a rebalance between two instances under load keeps each
key's order and loses nothing.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from redis.asyncio import Redis

from shared.envelope import SYSTEM, encode, wrap
from shared.kafka import NotYet, Route, ServiceRuntime
from shared.outbox import Txn
from shared.settings import HallSettings
from shared.telemetry import tracer_provider
from tests.halls import fresh_settings
from tests.integration.test_dead_letters import dead_letters
from tests.support import eventually

pytestmark = pytest.mark.integration
TOPIC = "lanes.probe"


class Step(msgspec.Struct, frozen=True):
    version: ClassVar[int] = 1
    key: str
    seq: int


Handler = Callable[[Any, Step, Txn], Awaitable[None]]


async def make_topic(ns: HallSettings, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=ns.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(ns.topic(TOPIC), partitions, 1)])
    finally:
        await admin.close()


async def send(ns: HallSettings, steps: list[Step], partition: int | None = None) -> list[bytes]:
    """Each step as an envelope keyed by its key (one partition if given); returns the values sent."""
    producer = AIOKafkaProducer(bootstrap_servers=ns.kafka_bootstrap_servers, acks="all", linger_ms=5)
    await producer.start()
    values = []
    try:
        futures = []
        for step in steps:
            value = encode(wrap(step, case_id=step.key, actor=SYSTEM))
            values.append(value)
            futures.append(await producer.send(ns.topic(TOPIC), value, key=step.key.encode(), partition=partition))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return values


@asynccontextmanager
async def running(ns: HallSettings, handler: Handler, service: str = "probe") -> AsyncIterator[ServiceRuntime]:
    runtime = ServiceRuntime(ns, service, tracer_provider(ns, service))
    runtime.subscribe([TOPIC], {"Step.v1": Route(Step, handler)})
    await runtime.start()
    await runtime.broker.start()
    try:
        yield runtime
    finally:
        await runtime.drain(drain_s=2.0, commit_s=2.0)
        await runtime.stop()
        await runtime.broker.stop()


async def until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    async def probe() -> bool | None:
        return True if check() else None

    try:
        await eventually(probe, timeout_s=timeout_s, every_s=0.02)
    except AssertionError:
        raise AssertionError(f"not within {timeout_s} s: {what}") from None


async def test_a_waiting_key_parks_alone_while_the_next_key_of_its_partition_is_handled_in_order(
    settings: HallSettings,
) -> None:
    ns = await fresh_settings(settings)
    await make_topic(ns, 1)
    redis = Redis.from_url(ns.redis_url)
    go = ns.key("probe", "go")
    handled: list[tuple[str, int]] = []

    async def handler(_env: Any, step: Step, _txn: Txn) -> None:
        if step.key == "a" and step.seq == 1 and not await redis.get(go):
            raise NotYet("a/1 waits for its go")
        handled.append((step.key, step.seq))

    # a/1 first in the partition: before lanes, it rewound the partition and held b back until it went through.
    await send(ns, [Step("a", 1), Step("a", 2), *(Step("b", n) for n in range(1, 6))], partition=0)
    async with running(ns, handler):
        await until(lambda: len(handled) == 5, 15, "b's five records while a/1 waits")
        assert handled == [("b", n) for n in range(1, 6)]  # b in order; a/2 waits behind a/1
        await asyncio.sleep(0.3)
        assert ("a", 2) not in handled
        await redis.set(go, "1")
        started = time.monotonic()
        await until(lambda: len(handled) == 7, 10, "a's records once a/1 may go")
        assert time.monotonic() - started < 1.5  # tried again within its backoff (at most 1 s)
        assert handled[5:] == [("a", 1), ("a", 2)]
    await redis.aclose()


async def test_one_key_is_strictly_in_order_while_keys_are_handled_at_once(settings: HallSettings) -> None:
    ns = await fresh_settings(settings)
    await make_topic(ns, 3)
    keys = [f"k{n:02d}" for n in range(12)]
    per_key = 20
    in_flight = [0, 0]  # now, most at once
    handled: dict[str, list[int]] = defaultdict(list)

    async def handler(_env: Any, step: Step, txn: Txn) -> None:
        in_flight[0] += 1
        in_flight[1] = max(in_flight[1], in_flight[0])
        try:
            last = int(await txn.get(ns.key("probe", "last", step.key)) or 0)
            await asyncio.sleep(random.uniform(0, 0.004))
            assert step.seq == last + 1, f"{step.key}: {step.seq} after {last}"
            txn.set(ns.key("probe", "last", step.key), str(step.seq))
            handled[step.key].append(step.seq)
        finally:
            in_flight[0] -= 1

    steps = [Step(key, seq) for seq in range(1, per_key + 1) for key in keys]
    await send(ns, steps)
    async with running(ns, handler) as runtime:
        await until(lambda: sum(map(len, handled.values())) == len(steps), 30, "every record")
        assert {key: handled[key] for key in keys} == {key: list(range(1, per_key + 1)) for key in keys}
        assert in_flight[1] > 1  # keys ran at once (one record at a time before lanes)
        # Every partition's offsets are committed up to its end once everything is finished.
        book = runtime._books[0]
        await book.flush()
    consumer = AIOKafkaConsumer(bootstrap_servers=ns.kafka_bootstrap_servers, group_id=f"{ns.namespace}.probe")
    await consumer.start()
    try:
        tps = [TopicPartition(ns.topic(TOPIC), p) for p in range(3)]
        ends = await consumer.end_offsets(tps)
        assert {tp: await consumer.committed(tp) for tp in tps} == ends
    finally:
        await consumer.stop()


async def test_a_poison_record_is_dead_lettered_while_its_neighbours_are_handled(settings: HallSettings) -> None:
    ns = await fresh_settings(settings)
    await make_topic(ns, 1)
    handled: dict[tuple[str, int], float] = {}
    poison_tries: list[float] = []

    async def handler(_env: Any, step: Step, _txn: Txn) -> None:
        if step.key == "poison" and step.seq == 1:
            poison_tries.append(time.monotonic())
            raise ValueError("a handler bug")
        handled[(step.key, step.seq)] = time.monotonic()

    others = [Step(f"n{n}", 1) for n in range(10)]
    values = await send(ns, [Step("poison", 1), Step("poison", 2), *others], partition=0)
    async with running(ns, handler):
        await until(lambda: len(handled) == 11, 20, "the neighbours and the poison's next record")
    letters = await dead_letters(ns, {values[0]})
    assert "handler failed" in letters[0].reason
    assert "a handler bug" in letters[0].reason
    assert len(poison_tries) == 3
    # The neighbours did not wait for the poison's retries (before lanes, it rewound the partition each time)...
    assert max(handled[(step.key, 1)] for step in others) < poison_tries[-1]
    # ...and the poison's own next record came after it was dead-lettered.
    assert handled[("poison", 2)] > poison_tries[-1]


async def test_a_whole_batch_delivered_again_changes_nothing(settings: HallSettings) -> None:
    ns = await fresh_settings(settings)
    await make_topic(ns, 2)
    calls: list[tuple[str, int]] = []
    counter = ns.key("probe", "count")

    async def handler(_env: Any, step: Step, txn: Txn) -> None:
        calls.append((step.key, step.seq))
        txn.write(lambda pipe: pipe.incr(counter))

    steps = [Step(f"k{n % 7}", n) for n in range(60)]
    await send(ns, steps)
    async with running(ns, handler) as runtime:
        await until(lambda: len(calls) == 60, 20, "the first delivery")
        await runtime._books[0].flush()
    # Every offset back to 0: the next consumer gets the whole batch again.
    group = f"{ns.namespace}.probe"
    rewind = AIOKafkaConsumer(bootstrap_servers=ns.kafka_bootstrap_servers, group_id=group, enable_auto_commit=False)
    await rewind.start()
    tps = [TopicPartition(ns.topic(TOPIC), p) for p in range(2)]
    rewind.assign(tps)
    await rewind.commit(dict.fromkeys(tps, 0))
    await rewind.stop()
    async with running(ns, handler) as runtime:
        await until(lambda: sum(lanes.handled for lanes in runtime.lanes) == 60, 20, "the second delivery")
    redis = Redis.from_url(ns.redis_url)
    assert int(await redis.get(counter) or 0) == 60
    await redis.aclose()
    assert len(calls) == 60  # the markers answered the second delivery: no handler ran again


async def test_a_rebalance_under_load_keeps_each_keys_order_and_loses_nothing(settings: HallSettings) -> None:
    ns = await fresh_settings(settings)
    await make_topic(ns, 4)
    keys = [f"case{n:02d}" for n in range(16)]
    redis = Redis.from_url(ns.redis_url)
    out_of_order = ns.key("probe", "out-of-order")

    async def handler(_env: Any, step: Step, txn: Txn) -> None:
        last = int(await txn.get(ns.key("probe", "last", step.key)) or 0)
        await asyncio.sleep(random.uniform(0, 0.003))
        if step.seq != last + 1:
            txn.write(lambda pipe: pipe.rpush(out_of_order, f"{step.key}:{step.seq} after {last}"))
        txn.set(ns.key("probe", "last", step.key), str(max(last, step.seq)))
        txn.write(lambda pipe: pipe.incr(ns.key("probe", "count", step.key)))

    rounds = [0]
    stop = asyncio.Event()

    async def produce() -> None:  # a round of every key every 20 ms until told to stop
        producer = AIOKafkaProducer(bootstrap_servers=ns.kafka_bootstrap_servers, acks="all", linger_ms=5)
        await producer.start()
        try:
            while not stop.is_set() and rounds[0] < 2000:
                seq = rounds[0] + 1
                sent = [
                    await producer.send(
                        ns.topic(TOPIC), encode(wrap(Step(key, seq), case_id=key, actor=SYSTEM)), key=key.encode()
                    )
                    for key in keys
                ]
                await asyncio.gather(*sent)
                rounds[0] = seq
                await asyncio.sleep(0.02)
        finally:
            await producer.stop()

    producing = asyncio.create_task(produce())
    async with running(ns, handler) as first:
        await until(lambda: first.lanes[0].handled > 0, 30, "the first instance handles records")
        async with running(ns, handler) as second:  # joins the group: partitions move under load
            await until(lambda: second.lanes[0].handled > 50, 30, "the second instance takes partitions")
        # the second has left: its partitions come back to the first, still under load
        before = first.lanes[0].handled
        await until(lambda: first.lanes[0].handled > before + 200, 30, "the first takes every partition again")
        stop.set()
        await producing
        per_key = rounds[0]

        async def all_counted() -> bool | None:
            counts = await redis.mget([ns.key("probe", "count", key) for key in keys])
            return True if all(int(c or 0) == per_key for c in counts) else None

        await eventually(all_counted, timeout_s=30)
        revoked = first.lanes[0].dropped + second.lanes[0].dropped
    assert await redis.lrange(out_of_order, 0, -1) == []
    lasts = await redis.mget([ns.key("probe", "last", key) for key in keys])
    assert [int(last or 0) for last in lasts] == [per_key] * len(keys)
    await redis.aclose()
    left = f"{revoked} queued records left to the next owner"
    print(f"\nrebalance under load: {per_key} rounds of {len(keys)} keys, {left}")  # noqa: T201


async def test_past_the_bound_of_held_records_the_consumer_pauses_until_they_drain(settings: HallSettings) -> None:
    ns = msgspec.structs.replace(await fresh_settings(settings), max_held_records=10)
    await make_topic(ns, 1)
    redis = Redis.from_url(ns.redis_url)
    go = ns.key("probe", "go")
    handled: list[tuple[str, int]] = []

    async def handler(_env: Any, step: Step, _txn: Txn) -> None:
        if step.key == "a" and not await redis.get(go):
            raise NotYet("a waits for its go")
        handled.append((step.key, step.seq))

    await send(ns, [Step("a", n) for n in range(1, 31)], partition=0)
    async with running(ns, handler) as runtime:
        lanes = runtime.lanes[0]
        await until(lambda: lanes.paused_since is not None, 15, "fetching paused")
        await send(ns, [Step("b", 1)], partition=0)
        await asyncio.sleep(1.0)
        assert lanes.held <= 30  # nothing more was taken while paused
        assert ("b", 1) not in handled
        await redis.set(go, "1")
        await until(lambda: len(handled) == 31, 15, "every record once the waiting key may go")
        assert lanes.paused_since is None
        assert [seq for key, seq in handled if key == "a"] == list(range(1, 31))
    await redis.aclose()
