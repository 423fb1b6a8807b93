"""The gateway's Prometheus metrics: HTTP latency by method, route template and status, and open SSE streams.

They go into the process's registry (shared/metrics.py) beside the consume path's metrics of the gateway's own
consumers, and are served on a loopback-only port of their own (``serve``), never on the public app: Prometheus
scrapes without a session, and the numbers are for operators, not for the public (see "Metrics" in the README).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.gateway.sla.board import CASE_PURPOSES, PURPOSES, SlaBoard
from services.gateway.sla.counts import Counts
from shared import metrics
from shared.clock import SYSTEM_CLOCK
from shared.kafka import ServiceRuntime
from shared.sla import NORMAL, OVERDUE, WARNING

log = logging.getLogger("hall.metrics")

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


# The board's purpose filters: 全部 ("") and each group a clock falls under (办件 holds 子件).
GROUPS = ("", "办件", *(purpose for purpose in PURPOSES if purpose not in CASE_PURPOSES))


async def refresh_clocks(redis: Redis, counts: Counts, now: datetime) -> None:
    """``hall_clocks`` from the board's counts of each purpose filter's 合计 (:meth:`Counts.scoped`, one round trip)."""
    found, _ = await counts.scoped(redis, [(group, "", "all", "") for group in GROUPS], now)
    for group, count in zip(GROUPS, found, strict=True):
        purpose = group or "全部"
        metrics.clocks.labels(purpose, NORMAL).set(count.normal)
        metrics.clocks.labels(purpose, WARNING).set(count.warning)
        metrics.clocks.labels(purpose, OVERDUE).set(count.overdue)
        metrics.clocks.labels(purpose, "暂停").set(count.paused)


def serve(runtime: ServiceRuntime) -> Callable[[], Awaitable[None]]:
    """Starts the metrics port (shared.metrics.serve_on_port) and the refresh of the consumer lag and the clocks'
    counts; returns what stops the latter."""
    port = metrics.serve_on_port(runtime.settings)
    if port is None:

        async def nothing() -> None:
            return None

        return nothing

    board = SlaBoard(runtime.settings)

    async def refresh() -> None:
        while True:
            await metrics.refresh_lag(runtime.service, runtime.consumers())
            try:
                await refresh_clocks(runtime.redis, board.counts, SYSTEM_CLOCK.now())
            except (RedisError, OSError, RuntimeError) as exc:  # Redis away: the last figures stay, /health says why
                log.debug("metrics: clocks not counted: %s", exc)
            await asyncio.sleep(LAG_EVERY_S)

    task = asyncio.create_task(refresh())

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return stop
