"""Redis killed (kill -9) and restarted under a steady stream of submissions, then a retry storm (issue 12,
failure 6).

Before: 496 answers were 500 during a Redis restart (connection refused, then ``BusyLoadingError`` while Redis
loaded its AOF), and a retry storm met redis-py's default pool of 100 ("Too many connections"). Now: while
Redis is away the gateway waits out a short gap (``HALL_REDIS_RETRY_S``) and then answers 503 with Retry-After;
once Redis is back every key is accepted, every process is ready again, and 300 concurrent retries never see
"Too many connections".
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from deploy.processes import SERVICES, Launcher
from shared.clock import SYSTEM_CLOCK
from tests.e2e.outage import Answer, Kiosks, all_ready, hall_on, sandbox_settings, summary, until_ready

pytestmark = [pytest.mark.e2e, pytest.mark.faults]  # ./hall test -m faults (long: not in the default run)
OUTAGE_S = 15.0
RATE = 3.0
STORM = 300  # concurrent submissions right after Redis is back
FILLER_KEYS = 200_000  # enough for Redis to take a moment loading its AOF after the restart (BusyLoadingError)
BOUNDED_S = 3.0 + 3.5  # the gateway's bounded wait for Redis (HALL_REDIS_RETRY_S) and some slack on a busy machine


async def test_redis_killed_and_restarted_answers_503_then_recovers(tmp_path: Path) -> None:
    with sandbox_settings(tmp_path) as (box, hall):
        await _fill(box.redis_url)
        async with hall_on(tmp_path, box, hall) as launcher:
            pids = {name: launcher.pid(name) for name in SERVICES}
            base = f"http://127.0.0.1:{launcher.ports['gateway']}"
            async with httpx.AsyncClient(timeout=10) as probe, Kiosks(base, RATE) as kiosks:
                await asyncio.sleep(5)
                kiosks.stop_new()  # what was accepted before the kill is in the AOF (fsync every second)
                await kiosks.drained(within_s=60)
                await asyncio.sleep(2)

                kiosks.resume()
                await asyncio.sleep(1)
                await asyncio.to_thread(box.kill_redis)
                down_at = time.monotonic()
                await asyncio.sleep(OUTAGE_S)
                not_ready = await all_ready(probe, launcher)
                restart_at = time.monotonic()
                await asyncio.to_thread(box.start_redis)
                up_at = time.monotonic()
                during = kiosks.seen.between(down_at + 1, restart_at)
                print(  # noqa: T201
                    f"redis down {restart_at - down_at:.0f} s, starting {up_at - restart_at:.1f} s "
                    f"(until {SYSTEM_CLOCK.now():%H:%M:%S}); during: {dict(kiosks.seen.statuses(during))}"
                )
                await asyncio.sleep(5)
                kiosks.stop_new()
                drained_s = await kiosks.drained(within_s=60)
                ready_s = await until_ready(probe, launcher, up_at, within_s=60, what="Redis")

                storm = await _storm(kiosks)
                seen = kiosks.seen
                loading = [a for a in seen.answers if a.status == 503 and "加载" in a.detail]
                took = sorted(a.took_s for a in during)
                print(  # noqa: T201
                    summary(
                        "redis outage",
                        seen,
                        during=dict(seen.statuses(during)),
                        p50_during_s=round(took[len(took) // 2], 2) if took else None,
                        max_during_s=round(took[-1], 2) if took else None,
                        loading_503=len(loading),
                        accepted_after_s=round(drained_s + 5, 1),
                        ready_after_s=round(ready_s, 1),
                        storm=dict(storm),
                    )
                )
                assert not [a for a in seen.answers if a.status >= 500 and a.status != 503], _worst(seen.answers)
                assert not [a for a in seen.answers if a.status == 0 and "Timeout" in a.detail], _worst(seen.answers)
                assert during, "no request was answered while Redis was away"
                assert {a.status for a in during} == {503}, seen.statuses(during)
                assert all(a.retry_after and a.retry_after.isdigit() for a in during)
                assert took[int(len(took) * 0.9)] < BOUNDED_S, took[-10:]
                assert set(not_ready) >= {"gateway"}, not_ready
                assert not_ready["gateway"]["problems"], not_ready
                # Every key accepted once: one case number per key, distinct between keys.
                assert all(len(cases) == 1 for cases in seen.accepted.values()), seen.accepted
                numbers = [next(iter(seen.accepted[key])) for key in seen.keys]
                assert len(set(numbers)) == len(numbers)
                assert set(storm) <= {201, 202}, storm
            too_many = _grep(launcher, "Too many connections")
            assert not too_many, too_many[:3]
            assert {name: launcher.pid(name) for name in SERVICES} == pids  # nobody restarted anything


async def _fill(redis_url: str) -> None:
    """Filler keys in a database of their own: the restarted Redis takes a moment to load them."""
    client = Redis.from_url(redis_url.rsplit("/", 1)[0] + "/15")
    try:
        for start in range(0, FILLER_KEYS, 20_000):
            pipe = client.pipeline(transaction=False)
            for n in range(start, start + 20_000):
                pipe.set(f"filler:{n}", "x" * 64)
            await pipe.execute()
    finally:
        await client.aclose()


async def _storm(kiosks: Kiosks) -> dict[int, int]:
    """STORM new keys at once, each once: the answers' statuses (the pool waits, never 'Too many connections')."""
    answers: list[Answer] = await asyncio.gather(
        *(kiosks.submit(f"storm-{n}-{time.monotonic_ns()}") for n in range(STORM))
    )
    counts: dict[int, int] = {}
    for answer in answers:
        counts[answer.status] = counts.get(answer.status, 0) + 1
    return counts


def _grep(launcher: Launcher, text: str) -> list[str]:
    found = []
    for name in SERVICES:
        path = launcher.log_file(name)
        if path.exists():
            found += [f"{name}: {line[:200]}" for line in path.read_text(errors="replace").splitlines() if text in line]
    return found


def _worst(answers: list[Answer]) -> list[Answer]:
    return [a for a in answers if a.status in (0, 500, 502, 504)][:5]
