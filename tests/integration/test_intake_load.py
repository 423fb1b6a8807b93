"""1,000 applications at once through two gateways and two intake instances: 1,000 distinct case numbers, and every
acknowledged submission is in the hall's records (the daily sequence is a Redis INCR inside intake's transaction)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from redis.asyncio import Redis

from services.gateway.app import create_app
from services.intake.app import build as build_intake
from shared.settings import HallSettings
from tests.halls import asgi_client, fresh_settings, lifespan
from tests.journeys import APPLICATION, CLERK, auth
from tests.support import eventually

pytestmark = pytest.mark.integration

N = 1000


@asynccontextmanager
async def two_of_each(settings: HallSettings) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two intake instances (one consumer group: the partitions are shared) and two gateways."""
    spans = SimpleSpanProcessor(InMemorySpanExporter())
    intakes = [build_intake(settings, spans) for _ in range(2)]
    async with AsyncExitStack() as stack:
        for runtime in intakes:
            await runtime.start()
            await runtime.broker.start()
            stack.push_async_callback(runtime.broker.stop)
            stack.push_async_callback(runtime.stop)
        # Three consumers per instance: commands, timing's events, routing's events (a project stage's result).
        await settled(settings, "intake", members=6)
        clients = []
        for _ in range(2):
            app = create_app(settings, spans)
            await stack.enter_async_context(lifespan(app))
            clients.append(await stack.enter_async_context(asgi_client(app)))
        yield clients


async def settled(settings: HallSettings, service: str, members: int) -> None:
    """Wait until the service's consumer group has every member and has finished rebalancing."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    group = f"{settings.namespace}.{service}"
    try:

        async def stable() -> bool | None:
            (response,) = await admin.describe_consumer_groups([group])
            _, _, state, _, _, joined = response.groups[0]
            return True if state == "Stable" and len(joined) == members else None

        await eventually(stable, timeout_s=30, every_s=0.2)
    finally:
        await admin.close()


async def submit(client: httpx.AsyncClient, clerk: dict[str, str], key: str) -> httpx.Response:
    """One submission, asked again with its Idempotency-Key while the answer is 202 (Kafka has it, intake's reply
    came after the gateway's reply timer: under this load that is an answer, not a failure), as a kiosk does."""
    headers = {**clerk, "Idempotency-Key": key}
    for _ in range(60):
        answer = await client.post("/api/cases", json=APPLICATION, headers=headers)
        if answer.status_code != 202:
            return answer
        await asyncio.sleep(0.5)
    return answer


async def test_a_thousand_concurrent_submissions_get_a_thousand_distinct_numbers(settings: HallSettings) -> None:
    mine = await fresh_settings(settings)
    async with two_of_each(mine) as (first, second):
        clerks = [CLERK, auth("clerk-wang")]
        started = time.perf_counter()
        answers = await asyncio.gather(
            *(submit(first if i % 2 else second, clerks[i % 2 == 0], f"load-{mine.namespace}-{i}") for i in range(N))
        )
        elapsed = time.perf_counter() - started
        statuses = [a.status_code for a in answers]
        assert statuses.count(201) == N, {s: statuses.count(s) for s in set(statuses)}
        numbers = [a.json()["case_no"] for a in answers]
        assert len(set(numbers)) == N, "every case number is unique"
        assert all(n.startswith(mine.region_code) and len(n) == 20 for n in numbers)
        print(f"\n{N} submissions through 2 gateways and 2 intake instances in {elapsed:.1f} s")  # noqa: T201

        # Nothing acknowledged is lost: intake holds every case, and both gateways' read models find each number.
        redis = Redis.from_url(mine.redis_url)
        try:
            records = [k async for k in redis.scan_iter(match=f"{mine.namespace}:intake:case:*", count=1000)]
            assert len(records) == N
        finally:
            await redis.aclose()

        async def all_known(client: httpx.AsyncClient) -> bool | None:
            missing = 0
            for start in range(0, N, 100):
                found = await asyncio.gather(
                    *(client.get(f"/api/cases/{n}", headers=CLERK) for n in numbers[start : start + 100])
                )
                missing += sum(r.status_code != 200 for r in found)
            return True if missing == 0 else None

        await eventually(lambda: all_known(first), timeout_s=30, every_s=0.5)
        await eventually(lambda: all_known(second), timeout_s=30, every_s=0.5)
