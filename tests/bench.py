"""``./hall bench [N]``: N whole case lifecycles through the running hall, against a bare Kafka pipeline.

Prints cases per second, submit latency p50/p99, end-to-end latency p50/p99 (submission until the rating is
recorded), then pushes N messages through a bare aiokafka pipeline with the same number of hops and no logic,
and prints the ratio between the two.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time
import uuid

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from deploy.processes import SERVICES
from shared.offsets import OffsetBook
from shared.settings import HallSettings, load_settings
from tests.journeys import finish_journey, submit

# Kafka hops on a lifecycle's critical path: submit (command, reply), CaseAccepted to routing, StepOpened to
# the gateway, decision (command, reply), delivery (command, reply), rating (command, reply).
HOPS = 10
# How often a lifecycle asks the gateway whether the next step is ready; every ask costs the gateway too.
POLL_S = 0.05
WARM_UP = 16


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def hall_lifecycles(n: int, concurrency: int, base_url: str) -> tuple[float, list[float], list[float]]:
    submits: list[float] = []
    totals: list[float] = []
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:

        async def one() -> None:
            async with gate:
                start = time.perf_counter()
                case_no = await submit(client)
                submits.append(time.perf_counter() - start)
                await finish_journey(client, case_no, every_s=POLL_S)
                totals.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return time.perf_counter() - started, submits, totals


async def bare_pipeline(settings: HallSettings, n: int, concurrency: int) -> float:
    """N messages through HOPS relays (consume, produce with acks=all, commit), at most ``concurrency`` in flight."""
    run = f"{settings.namespace}.bench.{uuid.uuid4().hex[:6]}"
    names = [f"{run}.hop{i}" for i in range(HOPS + 1)]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(name, 6, 1) for name in names])
    await admin.close()
    servers = settings.kafka_bootstrap_servers
    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all", enable_idempotence=True)
    await producer.start()
    consumers = [
        AIOKafkaConsumer(
            name,
            bootstrap_servers=servers,
            group_id=f"{name}.relay",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        for name in names
    ]
    for consumer in consumers:
        await consumer.start()

    # Offsets are committed as the hall commits them (shared.offsets), so the two differ only by the hall's work.
    books = [OffsetBook() for _ in consumers]
    for book in books:
        book.start()

    async def relay(consumer: AIOKafkaConsumer, book: OffsetBook, target: str) -> None:
        async for record in consumer:
            await producer.send_and_wait(target, record.value, key=record.key)
            book.done(consumer, record)

    relays = [asyncio.create_task(relay(c, books[i], names[i + 1])) for i, c in enumerate(consumers[:-1])]
    gate = asyncio.Semaphore(concurrency)
    arrived: dict[bytes, asyncio.Future[None]] = {}

    async def sink() -> None:
        async for record in consumers[-1]:
            arrived.pop(record.key, asyncio.get_running_loop().create_future()).set_result(None)
            books[-1].done(consumers[-1], record)

    sink_task = asyncio.create_task(sink())

    async def one(i: int) -> None:
        async with gate:
            key = f"m{i}".encode()
            done = arrived[key] = asyncio.get_running_loop().create_future()
            await producer.send_and_wait(names[0], b"{}", key=key)
            await done

    await asyncio.sleep(3)  # let every relay join its group before the clock starts
    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = time.perf_counter() - started
    for task in [*relays, sink_task]:
        task.cancel()
    await asyncio.gather(*relays, sink_task, return_exceptions=True)
    for book in books:
        await book.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    await admin.delete_topics(names)
    await admin.close()
    for consumer in consumers:
        await consumer.stop()
    await producer.stop()
    return elapsed


async def main(n: int, concurrency: int) -> None:
    # A new topic's leaders take a moment; aiokafka logs each retry meanwhile.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    settings = load_settings()
    base_url = f"http://127.0.0.1:{SERVICES['gateway']}"
    print(f"hall bench: {n} case lifecycles, {concurrency} at a time, through {base_url}")
    await hall_lifecycles(WARM_UP, concurrency, base_url)  # connections, consumer fetches, caches
    elapsed, submits, totals = await hall_lifecycles(n, concurrency, base_url)
    rate = n / elapsed
    print(f"  cases per second          {rate:8.1f}   ({n} in {elapsed:.1f} s)")
    for label, values in (("submit latency ", submits), ("end to end     ", totals)):
        p50, p99 = statistics.median(values) * 1000, percentile(values, 99) * 1000
        print(f"  {label} p50 / p99 {p50:8.1f} / {p99:.1f} ms")
    bare = await bare_pipeline(settings, n, concurrency)
    bare_rate = n / bare
    print(f"bare aiokafka pipeline: {n} messages through {HOPS} hops, {concurrency} at a time")
    print(f"  messages per second       {bare_rate:8.1f}   ({n} in {bare:.1f} s)")
    print(f"  hall / bare throughput    {rate / bare_rate:8.2f}   (bare is {bare_rate / rate:.1f}x the hall)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="hall bench")
    parser.add_argument("n", nargs="?", type=int, default=200, help="case lifecycles (default 200)")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(main(args.n, args.concurrency))
