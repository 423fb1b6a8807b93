"""The whole hall in this test process, on the real Kafka and Redis, with spans kept in memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx
import msgspec
import pytest
from litestar import Litestar
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.evaluation.app import build as build_evaluation
from services.gateway.app import create_app
from services.intake.app import build as build_intake
from services.routing.app import build as build_routing
from services.timing.app import build as build_timing
from shared.kafka import ServiceRuntime
from shared.settings import HallSettings


class InProcessHall(msgspec.Struct):
    client: httpx.AsyncClient
    spans: InMemorySpanExporter
    runtimes: list[ServiceRuntime]


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    """The app's lifespan held by a task of its own: pytest sets fixtures up and down in different tasks."""
    started, finish = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with app.lifespan():
            started.set()
            await finish.wait()

    task = asyncio.create_task(hold())
    await asyncio.wait([task, asyncio.create_task(started.wait())], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # startup failed: raise its error here
    try:
        yield
    finally:
        finish.set()
        await task


def asgi_client(app: Litestar) -> httpx.AsyncClient:
    """An HTTP client that calls the app in this process."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=cast(Any, app)), base_url="http://hall", timeout=30)


@pytest.fixture(scope="session")
async def hall(settings: HallSettings) -> AsyncIterator[InProcessHall]:
    spans = InMemorySpanExporter()
    processor = SimpleSpanProcessor(spans)
    runtimes = [build(settings, processor) for build in (build_intake, build_routing, build_timing, build_evaluation)]
    for runtime in runtimes:
        await runtime.start()
        await runtime.broker.start()
    try:
        app = create_app(settings, processor)
        async with lifespan(app), asgi_client(app) as client:
            yield InProcessHall(client=client, spans=spans, runtimes=runtimes)
    finally:
        for runtime in runtimes:
            await runtime.stop()
            await runtime.broker.stop()
