"""``./hall bench [N]``: whole case lifecycles through the running hall, against a bare Kafka pipeline.

Closed loop (``./hall bench N --concurrency C``): N lifecycles, C at a time. Prints cases per second, submit
latency p50/p99, end-to-end latency p50/p99 (submission until the rating is recorded), the requests a lifecycle
sent, then CPU per lifecycle for each process (tests/bench_cpu.py); then pushes N messages through a bare aiokafka
pipeline with the same number of hops and no logic, C at a time, and prints the ratio between the two and the
pipeline's CPU per message.

Open loop (``./hall bench --rates 20,50,100 [--hold 120] [--drain 30]``): lifecycles started at each rate in turn
(tests/bench_open.py), a row per rate, the highest rate sustained with e2e p99 under 2 s, CPU per lifecycle for
each process at each rate, and the bare pipeline at the mean number of lifecycles in flight.

Each lifecycle follows its own case through that case's endpoints (tests/bench_open.py says how), never a
department-wide list.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import statistics
import time
import uuid
from collections import Counter
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from deploy.processes import ROOT, SERVICES, Launcher
from shared.offsets import OffsetBook
from shared.settings import HallSettings, load_settings
from tests.bench_cpu import BENCH, CpuUse, Processes
from tests.bench_open import (
    GOAL_P99_S,
    Follower,
    LifecycleFailed,
    RateResult,
    client_for,
    cpu_matrix,
    finished_requests,
    highest_sustained,
    open_loop,
    percentile,
    requests_line,
)

# Kafka hops on a lifecycle's critical path: submit (command, reply), CaseAccepted to routing, StepOpened to
# the gateway, decision (command, reply), delivery (command, reply), rating (command, reply).
HOPS = 10
PARTITIONS = 6  # per hop topic
# How often a lifecycle asks the gateway whether the next step is ready; every ask costs the gateway too.
POLL_S = 0.05
WARM_UP = 16
# A closed-loop lifecycle that waits longer than this for one effect fails the bench.
WAIT_S = 120.0


async def hall_lifecycles(
    n: int, concurrency: int, base_url: str, poll_s: float = POLL_S
) -> tuple[float, list[float], list[float], Counter[str]]:
    """N lifecycles, ``concurrency`` at a time: elapsed seconds, submit and end-to-end latencies, requests sent."""
    submits: list[float] = []
    totals: list[float] = []
    gate = asyncio.Semaphore(concurrency)
    async with client_for(base_url, concurrency * 2) as client:
        follower = Follower(client, poll_s, WAIT_S)

        async def one() -> None:
            async with gate:
                done = await follower.run(time.perf_counter())
                submits.append(done.submit_s)
                totals.append(done.total_s)

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return time.perf_counter() - started, submits, totals, follower.requests


BARE_STALL_S = 60.0


async def bare_pipeline(
    settings: HallSettings, n: int, concurrency: int, processes: Processes | None = None
) -> tuple[float, CpuUse | None]:
    """N messages through HOPS relays (consume, produce with acks=all, commit), at most ``concurrency`` in flight:
    the seconds it took, and the CPU ``processes`` (the bench's own, which runs the relays, and Kafka) spent."""
    # A new topic's leaders take a moment; aiokafka logs each retry meanwhile.
    quiet, level = logging.getLogger("aiokafka"), logging.getLogger("aiokafka").level
    quiet.setLevel(logging.CRITICAL)
    try:
        return await _bare_pipeline(settings, n, concurrency, processes)
    finally:
        quiet.setLevel(level)


async def _bare_pipeline(
    settings: HallSettings, n: int, concurrency: int, processes: Processes | None
) -> tuple[float, CpuUse | None]:
    run = f"{settings.namespace}.bench.{uuid.uuid4().hex[:6]}"
    names = [f"{run}.hop{i}" for i in range(HOPS + 1)]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(name, PARTITIONS, 1) for name in names])
    try:
        await _leaders_elected(admin, names)
    finally:
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

    await _assigned(consumers)  # every relay in its group, with every partition, before the clock starts
    before = processes.snapshot() if processes else {}
    started = time.perf_counter()
    pending = {asyncio.create_task(one(i)) for i in range(n)}
    while pending:  # a message that never arrives ends the run with the reason, not a wait without end
        finished, pending = await asyncio.wait(pending, timeout=BARE_STALL_S)
        if not finished:
            for task in pending:
                task.cancel()
            raise RuntimeError(
                f"bare pipeline stalled: {n - len(pending)} of {n} messages through, none for {BARE_STALL_S:g} s"
            )
        for task in finished:
            task.result()
    elapsed = time.perf_counter() - started
    cpu = CpuUse.between(before, processes.snapshot(), elapsed, n) if processes else None
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
    return elapsed, cpu


async def _leaders_elected(admin: AIOKafkaAdminClient, names: list[str], timeout_s: float = 60.0) -> None:
    """Until every partition of the new topics has a leader: a consumer that joins its group before its topic is
    known is assigned nothing until its next metadata refresh (five minutes), and the pipeline would stall."""
    deadline = time.monotonic() + timeout_s
    while True:
        topics = await admin.describe_topics(names)
        ready = [
            t["topic"]
            for t in topics
            if not t["error_code"]
            and len(t["partitions"]) == PARTITIONS
            and all(p["leader"] >= 0 for p in t["partitions"])
        ]
        if len(ready) == len(names):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"bare pipeline: no leaders for {sorted(set(names) - set(ready))} in {timeout_s:g} s")
        await asyncio.sleep(0.2)


async def _assigned(consumers: list[AIOKafkaConsumer], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while any(len(c.assignment()) < PARTITIONS for c in consumers):
        if time.monotonic() > deadline:
            raise RuntimeError(f"bare pipeline: relays not assigned their partitions in {timeout_s:g} s")
        await asyncio.sleep(0.1)


def hall_processes(home: Path) -> Processes:
    """The running hall's service instances under ``home`` (``./hall up``), its Kafka and Redis, and the bench."""
    return Processes.of_hall(Launcher(home))


def print_bare(n: int, concurrency: int, bare_s: float, cpu: CpuUse | None, hall_rate: float) -> None:
    bare_rate = n / bare_s
    print(f"bare aiokafka pipeline: {n} messages through {HOPS} hops, {concurrency} at a time")
    print(f"  messages per second       {bare_rate:8.1f}   ({n} in {bare_s:.1f} s)")
    print(f"  hall / bare throughput    {hall_rate / bare_rate:8.2f}   (bare is {bare_rate / hall_rate:.1f}x the hall)")
    if cpu is not None:
        parts = ", ".join(f"{name} {cpu.per_unit_ms(name):.1f}" for name in cpu.seconds)
        total = cpu.total_s * 1000 / n
        print(f"  CPU ms per message        {total:8.1f}   ({parts}; the bench process runs the relays)")


async def closed_loop(
    settings: HallSettings,
    base_url: str,
    n: int,
    concurrency: int,
    processes: Processes,
    *,
    warm_up: int = WARM_UP,
    bare_n: int | None = None,
    poll_s: float = POLL_S,
) -> tuple[float, list[float], list[float], CpuUse]:
    """``./hall bench N --concurrency C``, printed; returns the elapsed time, the latencies and the CPU used."""
    print(f"hall bench: {n} case lifecycles, {concurrency} at a time, through {base_url}")
    if warm_up:
        await hall_lifecycles(warm_up, concurrency, base_url, poll_s)  # connections, consumer fetches, caches
    before = processes.snapshot()
    elapsed, submits, totals, requests = await hall_lifecycles(n, concurrency, base_url, poll_s)
    cpu = CpuUse.between(before, processes.snapshot(), elapsed, n)
    rate = n / elapsed
    print(f"  cases per second          {rate:8.1f}   ({n} in {elapsed:.1f} s)")
    for label, values in (("submit latency ", submits), ("end to end     ", totals)):
        p50, p99 = statistics.median(values) * 1000, percentile(values, 99) * 1000
        print(f"  {label} p50 / p99 {p50:8.1f} / {p99:.1f} ms")
    print(requests_line(requests, n))
    print(f"CPU per lifecycle, {n} lifecycles in {elapsed:.1f} s (cores: the share of one core over that time):")
    print("\n".join(cpu.table()))
    bare_n = n if bare_n is None else bare_n
    bare_s, bare_cpu = await bare_pipeline(settings, bare_n, concurrency, processes.only((BENCH, "kafka")))
    print_bare(bare_n, concurrency, bare_s, bare_cpu, rate)
    return elapsed, submits, totals, cpu


async def rates_ladder(
    settings: HallSettings,
    base_url: str,
    rates: list[float],
    *,
    hold_s: float,
    drain_s: float,
    processes: Processes,
    warm_up: int = WARM_UP,
    bare_n: int | None = None,
    poll_s: float = POLL_S,
) -> tuple[list[RateResult], Counter[str]]:
    """``./hall bench --rates 20,50,100``, printed; returns each rate's result and every request sent, by route."""
    listed = ", ".join(f"{r:g}" for r in sorted(rates))
    print(
        f"hall bench: open loop at {listed} lifecycles/s, each rate held {hold_s:g} s "
        f"(then up to {drain_s:g} s to finish), through {base_url}"
    )
    if warm_up:
        await hall_lifecycles(warm_up, min(warm_up, 8), base_url, poll_s)
    results, sent = await open_loop(base_url, rates, hold_s=hold_s, drain_s=drain_s, poll_s=poll_s, processes=processes)
    best = highest_sustained(results)
    tried = ", ".join(f"{r.rate:g}/s" for r in results)
    if best is None:
        print(f"highest rate sustained with e2e p99 under {GOAL_P99_S:g} s: none of {tried}")
    else:
        print(
            f"highest rate sustained with e2e p99 under {GOAL_P99_S:g} s: {best.rate:g} lifecycles/s "
            f"for {best.hold_s:g} s (e2e p99 {best.e2e_p99_s:.2f} s)"
        )
    print(requests_line(*finished_requests(results)))
    print("CPU ms per finished lifecycle (share of a core in brackets), each rate from its start to its last finish:")
    print("\n".join(cpu_matrix(results)))
    # The bare pipeline at the same concurrency: the lifecycles in flight on average at the rate shown.
    shown = best or results[-1]
    concurrency = max(1, math.ceil(shown.in_flight))
    bare_n = bare_n or max(200, 4 * concurrency)
    bare_s, bare_cpu = await bare_pipeline(settings, bare_n, concurrency, processes.only((BENCH, "kafka")))
    print(f"(bare pipeline at {concurrency} in flight, as the hall had at {shown.rate:g}/s)")
    print_bare(bare_n, concurrency, bare_s, bare_cpu, shown.rate)
    return results, sent


def rate_list(text: str) -> list[float]:
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rates 须为逗号分隔的正数（每秒办件数），如 20,50,100：{text!r}") from None
    if not rates or any(not math.isfinite(r) or r <= 0 for r in rates):
        raise argparse.ArgumentTypeError(f"--rates 须为逗号分隔的正数（每秒办件数），如 20,50,100：{text!r}")
    return rates


async def main(args: argparse.Namespace) -> None:
    settings = load_settings()
    base_url = f"http://127.0.0.1:{SERVICES['gateway']}"
    processes = hall_processes(Path(os.environ.get("HALL_HOME") or ROOT / ".hall"))
    try:
        if args.rates:
            await rates_ladder(
                settings,
                base_url,
                args.rates,
                hold_s=args.hold,
                drain_s=args.drain,
                processes=processes,
                poll_s=args.poll,
            )
        else:
            await closed_loop(settings, base_url, args.n, args.concurrency, processes, poll_s=args.poll)
    except LifecycleFailed as failed:
        raise SystemExit(f"hall bench: a lifecycle failed: {failed}") from None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="hall bench")
    parser.add_argument("n", nargs="?", type=int, default=200, help="closed loop: case lifecycles (default 200)")
    parser.add_argument("--concurrency", type=int, default=16, help="closed loop: lifecycles at a time (16)")
    parser.add_argument("--rates", type=rate_list, help="open loop: lifecycles a second, e.g. 20,50,100")
    parser.add_argument("--hold", type=float, default=120.0, help="open loop: seconds each rate is held (120)")
    parser.add_argument("--drain", type=float, default=30.0, help="open loop: seconds more to finish (30)")
    parser.add_argument("--poll", type=float, default=POLL_S, help="seconds between a lifecycle's asks (0.05)")
    arguments = parser.parse_args()
    for name in ("n", "concurrency"):
        if getattr(arguments, name) < 1:
            parser.error(f"{name} 须为正整数")
    for name in ("hold", "drain", "poll"):
        if not math.isfinite(getattr(arguments, name)) or getattr(arguments, name) <= 0:
            parser.error(f"--{name} 须为正数（秒）")
    asyncio.run(main(arguments))
