"""``./hall bench timers``: a million pending timers in Redis, a share of them coming due, fired by the engine.

The timers are clocks kept exactly as timing keeps them (a msgpack clock per key and its next alert in the
due sorted set), in a namespace of their own. Timing's scheduler then raises the due share through the outbox
to Kafka, as in production; the bench prints how late each alert was published after it was due (p50, p99),
and how much Redis memory the timers take (INFO memory, used_memory before and after loading). Everything
(keys and topics) is removed afterwards.

    ./hall bench timers [--timers 1000000] [--due 10000] [--window 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from redis.asyncio import Redis

from services.timing import clocks as c
from services.timing.app import TimingRuntime, build
from services.timing.clocks import CASE, ClockState
from services.timing.engine import Engine
from services.timing.scheduler import Fired
from services.timing.store import Keys, encode_clock
from shared.calendar import Limit
from shared.clock import SYSTEM_CLOCK
from shared.settings import HallSettings, load_settings
from shared.topics import ensure_topics
from tests.conftest import remove_namespace

# Natural-hour clocks with a share-based warning and escalation: the bench does not depend on today's year
# being in the working calendar.
HALLS = """
[default]
warning = "20%"
escalation = [{ level = "督办", after = "24NH" }]
"""
CHUNK = 10_000


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def timer(engine: Engine, n: int, deadline: datetime, limit_hours: float, *, warned: bool) -> tuple[ClockState, float]:
    clock_id = uuid.uuid4().hex
    clock = c.start_clock(
        engine.calendar("hall"),
        clock_id=clock_id,
        purpose=CASE,
        case_id=clock_id,
        case_no=f"1505252026{n:010d}",
        started_at=deadline - timedelta(hours=limit_hours),
        promised=Limit(limit_hours, "NH"),
        department="自然资源局",
        item_code="11150525000118001",
        item_name="查封登记",
        owner="clerk-zhang",
        owner_name="张敏",
        hall="hall",
    )
    if warned:
        clock.alerted.append("预警")  # the due share: its next level is 逾期, at its deadline
    upcoming = c.next_alert(clock, *engine.of(clock))
    assert upcoming is not None
    return clock, upcoming[1].timestamp()


async def load(redis: Redis, keys: Keys, clocks: list[tuple[ClockState, float]]) -> None:
    for start in range(0, len(clocks), CHUNK):
        pipe: Any = redis.pipeline(transaction=False)
        for clock, _ in clocks[start : start + CHUNK]:
            pipe.set(keys.clock(clock.clock_id), encode_clock(clock))
        pipe.zadd(keys.due, {clock.clock_id: score for clock, score in clocks[start : start + CHUNK]})
        await pipe.execute()


async def used_memory(redis: Redis) -> int:
    info: dict[str, Any] = await redis.info("memory")
    return int(info["used_memory"])


async def bench(settings: HallSettings, timers: int, due: int, window: float) -> None:
    await ensure_topics(settings)
    keys, redis = Keys(settings), Redis.from_url(settings.redis_url)
    runtime = cast("TimingRuntime", build(settings))
    engine = runtime.engine
    before = await used_memory(redis)
    began = time.monotonic()
    now = SYSTEM_CLOCK.now()
    # The pending majority: deadlines 3 to 30 days away.
    batch: list[tuple[ClockState, float]] = []
    for n in range(timers - due):
        hours = 72 + n % 648
        batch.append(timer(engine, n, now + timedelta(hours=hours), hours, warned=False))
        if len(batch) == CHUNK * 10:
            await load(redis, keys, batch)
            batch = []
    await load(redis, keys, batch)
    # The share that comes due: deadlines spread evenly over the window, starting 3 s after loading ends.
    soon = SYSTEM_CLOCK.now() + timedelta(seconds=3)
    coming = [
        timer(engine, timers - due + n, soon + timedelta(seconds=window * n / due), 8, warned=True) for n in range(due)
    ]
    await load(redis, keys, coming)
    await redis.set(keys.built, "0")
    loaded_s = time.monotonic() - began
    after = await used_memory(redis)
    pending = await redis.zcard(keys.due)
    say(f"timers pending        {pending:,} (loaded in {loaded_s:.1f} s)")
    say(f"Redis used_memory     {before / 2**20:,.1f} MB before, {after / 2**20:,.1f} MB after")
    say(f"memory for timers     {(after - before) / 2**20:,.1f} MB ({(after - before) / timers:.0f} bytes each)")

    lateness: list[float] = []
    decided: list[float] = []

    def fired(alert: Fired) -> None:
        lateness.append(SYSTEM_CLOCK.now().timestamp() - alert.due_at.timestamp())
        decided.append((alert.fired_at - alert.due_at).total_seconds())

    runtime.scheduler.on_fire = fired
    await runtime.start()
    await runtime.broker.start()
    try:
        deadline = time.monotonic() + window + 60
        while len(lateness) < due and time.monotonic() < deadline:  # noqa: ASYNC110 (a progress poll)
            await asyncio.sleep(0.5)
    finally:
        await runtime.stop()
        await runtime.broker.stop()
    if len(lateness) < due:
        say(f"only {len(lateness):,} of {due:,} due timers fired")
    cuts = statistics.quantiles(lateness, n=100) if len(lateness) > 1 else lateness * 99
    say(f"fired                 {len(lateness):,} of {due:,} due over {window:g} s ({due / window:,.0f}/s)")
    say(
        f"fire lateness         p50 {cuts[49] * 1000:,.0f} ms   p99 {cuts[98] * 1000:,.0f} ms   "
        f"max {max(lateness) * 1000:,.0f} ms"
    )
    if len(decided) > 1:
        taken = statistics.quantiles(decided, n=100)
        say(
            f"  of which, to claim   p50 {taken[49] * 1000:,.0f} ms   p99 {taken[98] * 1000:,.0f} ms (the rest: "
            "one Redis transaction per chunk, then Kafka acks=all)"
        )
    say(f"still pending         {await redis.zcard(keys.due):,}")
    await redis.aclose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./hall bench timers", description=__doc__.splitlines()[0])
    parser.add_argument("--timers", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000, help="how many come due during the run")
    parser.add_argument("--window", type=float, default=20.0, help="seconds over which they come due")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        halls = Path(tmp) / "halls.toml"
        halls.write_text(HALLS, encoding="utf-8")
        os.environ["HALL_HALLS_FILE"] = str(halls)
        settings = load_settings(namespace=f"bench{uuid.uuid4().hex[:6]}")
        say(f"bench timers: namespace {settings.namespace}, Redis {settings.redis_url}")

        async def run() -> None:
            try:
                await bench(settings, args.timers, args.due, args.window)
            finally:
                began = time.monotonic()
                await remove_namespace(settings)
                say(f"cleaned up            keys and topics of {settings.namespace} ({time.monotonic() - began:.1f} s)")

        asyncio.run(run())


if __name__ == "__main__":
    main()
