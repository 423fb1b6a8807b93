"""运行监控 · 实例 (issue 17, item 4): a process registers itself in ``<ns>:ops:instances`` while it runs and leaves
on stop; the gateway scrapes every registered instance's /health and /metrics (an instance that does not answer is
不可达, one not seen for a while 失联, never a 500), caches a scrape for a few seconds and reads lag, throughput,
p99 and dead letters from the Prometheus text. On the real Redis, with a small HTTP server as the instance."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import msgspec
import pytest

from services.gateway.app import create_app
from services.gateway.ops.monitor import LOST, UNREACHABLE, UP, Monitor
from shared import metrics
from shared.clock import SYSTEM_CLOCK
from shared.instances import Instance, Registration, registered, registry_key
from shared.kafka import redis_client
from shared.settings import HallSettings
from tests.halls import asgi_client, free_port, fresh_settings, lifespan
from tests.journeys import CLERK, auth

pytestmark = pytest.mark.integration

OPERATOR = auth("op-qian")


@contextlib.asynccontextmanager
async def instance_server(service: str) -> AsyncIterator[int]:
    """/health (ready) and /metrics (the process's registry, as shared/service.py serves them) on a free port."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = (await reader.readuntil(b"\r\n\r\n")).decode()
        path = request.split(" ", 2)[1]
        if path == "/health":
            body = msgspec.json.encode({"service": service, "ready": True, "problems": []})
        else:
            body = metrics.exposition()
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()
        writer.close()

    port = free_port()
    server = await asyncio.start_server(answer, "127.0.0.1", port)
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()


async def test_registered_instances_are_scraped_and_the_silent_ones_shown_unreachable(settings: HallSettings) -> None:
    ns = await fresh_settings(settings)
    redis = redis_client(ns, 4)
    service = "opsprobe"  # a label of its own in the process's metrics registry
    now = SYSTEM_CLOCK.now()
    try:
        async with instance_server(service) as port:
            live = msgspec.structs.replace(ns, http_port=port)
            registration = Registration(live, service, lambda: redis)
            registration.start()
            await asyncio.sleep(0.2)
            (entry,) = await registered(redis, ns, SYSTEM_CLOCK.now())
            assert (entry.service, entry.instance, entry.address, entry.metrics) == (
                service,
                service,
                f"127.0.0.1:{port}",
                f"127.0.0.1:{port}",
            )

            def put(name: str, address: str, seen_ago_s: float) -> Instance:
                return Instance(
                    service=service,
                    instance=name,
                    address=address,
                    metrics=address,
                    pid=1,
                    started_at=now.isoformat(),
                    last_seen=(now - timedelta(seconds=seen_ago_s)).isoformat(),
                )

            closed = f"127.0.0.1:{free_port()}"
            for name, seen in ((f"{service}-2", 1), (f"{service}-3", 60), (f"{service}-4", 3600)):
                await redis.hset(registry_key(ns), name, msgspec.json.encode(put(name, closed, seen)))

            for _ in range(10):  # records handled: the counter moves, the histogram fills
                metrics.handled(service, "Probe.v1", 0.004)
            metrics.dead_lettered(service, "handler_failed")
            monitor = Monitor(ns, traces_ui="http://127.0.0.1:9411")
            first = await monitor.overview(redis, SYSTEM_CLOCK.now())
            (shown,) = first.services
            by_name = {i.instance: i for i in shown.instances}
            assert list(by_name) == [service, f"{service}-2", f"{service}-3"]  # -4: forgotten after ten minutes
            assert await redis.hexists(registry_key(ns), f"{service}-4") == 0
            up = by_name[service]
            assert up.state == UP, up
            assert up.dead_letters is not None
            assert up.dead_letters >= 1
            assert up.p99_ms is not None
            assert 2.5 <= up.p99_ms <= 5.0
            assert up.traces_url is not None
            assert up.traces_url.startswith(f"http://127.0.0.1:9411/zipkin/?serviceName={service}&lookback=1h&endTs=")
            assert by_name[f"{service}-2"].state == UNREACHABLE
            assert by_name[f"{service}-2"].problems
            assert by_name[f"{service}-3"].state == LOST

            assert (await monitor.overview(redis, SYSTEM_CLOCK.now())) is first  # cached: one scrape
            assert monitor.scrapes == 1

            await registration.stop()  # a stopping process leaves the registry
            assert await redis.hexists(registry_key(ns), service) == 0
    finally:
        await redis.aclose()


async def test_the_ops_page_and_api_show_the_gateway_itself(settings: HallSettings) -> None:
    """The gateway registers itself; /ops and GET /api/ops/instances answer operators only, never with a 500."""
    # Its HTTP port a free one nothing listens on (the in-process app is not served over a port here).
    ns = msgspec.structs.replace(await fresh_settings(settings), http_port=free_port())
    app = create_app(ns)
    async with lifespan(app), asgi_client(app) as client:
        answer = await client.get("/api/ops/instances", headers=OPERATOR)
        assert answer.status_code == 200, answer.text
        services = {s["service"]: s for s in answer.json()["services"]}
        (gateway,) = services["gateway"]["instances"]
        # Not reachable: said so, not an error.
        assert gateway["state"] == UNREACHABLE
        page = await client.get("/ops/", headers=OPERATOR)
        assert page.status_code == 200
        assert 'data-instance="gateway"' in page.text
        assert "不可达" in page.text
        assert (await client.get("/api/ops/instances", headers=CLERK)).status_code == 403
        assert (await client.get("/api/ops/stream", headers=CLERK)).status_code == 403
