"""The gateway's Prometheus metrics: HTTP latency by method, route template and status, and open SSE streams.

They go into the process's registry (shared/metrics.py) beside the consume path's metrics of the gateway's own
consumers, and are served on a loopback-only port of their own (``serve``), never on the public app: Prometheus
scrapes without a session, and the numbers are for operators, not for the public (see "Metrics" in the README).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from shared import metrics
from shared.kafka import ServiceRuntime

LAG_EVERY_S = 5.0  # the metrics port serves from a thread: the gateway's consumer lag is refreshed this often


def http_metrics(app: ASGIApp) -> ASGIApp:
    """Litestar middleware (it runs after routing: the scope names the route's template, never the path itself,
    so no case number or ID reaches a label)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        started = time.monotonic()
        status = 500
        streaming = False

        async def watch(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = dict(message.get("headers") or ())
                if headers.get(b"content-type", b"").startswith(b"text/event-stream"):
                    streaming = True
                    metrics.sse_clients.inc()
                    _observe(scope, status, started)  # a stream's latency: until it starts
            await send(message)

        try:
            await app(scope, receive, watch)
        finally:
            if streaming:
                metrics.sse_clients.dec()
            else:
                _observe(scope, status, started)

    return middleware


def _observe(scope: Scope, status: int, started: float) -> None:
    route = scope.get("path_template") or "(unrouted)"
    metrics.http_seconds.labels(scope.get("method", "GET"), route, str(status)).observe(time.monotonic() - started)


def serve(runtime: ServiceRuntime) -> Callable[[], Awaitable[None]]:
    """Starts the metrics port (shared.metrics.serve_on_port) and the lag refresh; returns what stops the latter."""
    port = metrics.serve_on_port(runtime.settings)
    if port is None:

        async def nothing() -> None:
            return None

        return nothing

    async def refresh() -> None:
        while True:
            await metrics.refresh_lag(runtime.service, runtime.consumers())
            await asyncio.sleep(LAG_EVERY_S)

    task = asyncio.create_task(refresh())

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return stop
