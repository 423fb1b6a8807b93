"""A whole hall in the test process, on the real Kafka and Redis: its services, gateway and an HTTP client.

``in_process_hall`` runs intake, routing, timing and evaluation consumers and the gateway app in this event loop;
with ``serve=True`` the gateway also listens on a free loopback port (for the browser tests). A ``clock`` is
given to the services that keep time (timing, evaluation), so tests move time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx
import msgspec
import uvicorn
from litestar import Litestar
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.evaluation.app import build as build_evaluation
from services.gateway.app import create_app
from services.intake.app import build as build_intake
from services.routing.app import build as build_routing
from services.timing.app import build as build_timing
from shared.clock import Clock
from shared.kafka import ServiceRuntime
from shared.settings import HallSettings
from shared.topics import ensure_topics


class InProcessHall(msgspec.Struct):
    client: httpx.AsyncClient
    spans: InMemorySpanExporter
    runtimes: list[ServiceRuntime]
    settings: HallSettings
    base_url: str = ""


async def fresh_settings(settings: HallSettings) -> HallSettings:
    """A namespace of its own (inside the session's, so it is cleaned up with it), with its topics."""
    fresh = msgspec.structs.replace(settings, namespace=f"{settings.namespace}x{uuid.uuid4().hex[:6]}")
    await ensure_topics(fresh)
    return fresh


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _build(
    builder: Callable[..., ServiceRuntime], settings: HallSettings, spans: SpanProcessor, clock: Clock | None
) -> ServiceRuntime:
    if clock is not None and "clock" in inspect.signature(builder).parameters:
        return builder(settings, spans, clock=clock)
    return builder(settings, spans)


@asynccontextmanager
async def serving(app: Litestar) -> AsyncIterator[str]:
    """The app on a free loopback port, served by uvicorn in this event loop; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(cast(Any, app), host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


@asynccontextmanager
async def in_process_hall(
    settings: HallSettings, *, clock: Clock | None = None, serve: bool = False
) -> AsyncIterator[InProcessHall]:
    spans = InMemorySpanExporter()
    processor = SimpleSpanProcessor(spans)
    builders = (build_intake, build_routing, build_timing, build_evaluation)
    runtimes = [_build(builder, settings, processor, clock) for builder in builders]
    for runtime in runtimes:
        await runtime.start()
        await runtime.broker.start()
    try:
        app = create_app(settings, processor)
        if serve:
            # uvicorn runs the app's lifespan itself.
            async with serving(app) as base_url, asgi_client(app) as client:
                yield InProcessHall(client, spans, runtimes, settings, base_url)
        else:
            async with lifespan(app), asgi_client(app) as client:
                yield InProcessHall(client, spans, runtimes, settings)
    finally:
        # As a process shuts down: every service stops taking records and lets those being handled finish (a
        # record being retried gives up its turn) before Redis closes under it and its broker stops.
        for runtime in runtimes:
            await runtime.drain()
        for runtime in runtimes:
            await runtime.stop()
            await runtime.broker.stop()
