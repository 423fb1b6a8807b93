"""Turns a service's runtime into a runnable ASGI app with a health endpoint, and runs it."""

from __future__ import annotations

import gc
import logging
import os
import threading

import msgspec
import uvicorn
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.types import Scope

from shared import metrics
from shared.kafka import ServiceRuntime
from shared.logs import configure_logging
from shared.startup import wait_for_kafka
from shared.watch_built import EXIT_REBUILD, restarting

SHUTDOWN_S = 10.0  # SIGTERM to exit, at most


async def health_report(runtime: ServiceRuntime, **extra: object) -> dict[str, object]:
    """What ``/health`` answers: ready only when Kafka answers, Redis answers and no check reports a problem.

    ``problems`` lists every reason the service is not ready (Kafka unreachable, the last publish failed, Redis
    unreachable, the consumer group lost, ...): ``./hall status`` prints them.
    """
    problems: list[str] = []
    kafka = await runtime.broker.ping(timeout=2.0)
    if not kafka:
        problems.append("kafka: broker unreachable")
    redis_problem = await runtime.redis_problem()
    if redis_problem is not None:
        problems.append(redis_problem)
    problems.extend(runtime.health_problems())
    return {
        "service": runtime.service,
        "ready": not problems,
        "kafka": kafka,
        "redis": redis_problem is None,
        **extra,
        "problems": problems,
    }


def asgi_app(runtime: ServiceRuntime, exit_within_s: float | None = None) -> AsgiFastStream:
    """The FastStream app of a service: consumes on start, answers ``GET /health`` and ``GET /metrics``
    (Prometheus text, shared/metrics.py)."""

    @get(include_in_schema=False)
    async def health(scope: Scope) -> AsgiResponse:  # noqa: ARG001 (the ASGI handler signature)
        body = await health_report(runtime)
        status = 200 if body["ready"] else 503
        return AsgiResponse(msgspec.json.encode(body), status, headers={"content-type": "application/json"})

    @get(include_in_schema=False)
    async def prometheus(scope: Scope) -> AsgiResponse:  # noqa: ARG001 (the ASGI handler signature)
        body = await metrics.scrape(runtime.service, runtime.consumers)
        return AsgiResponse(body, 200, headers={"content-type": metrics.CONTENT_TYPE})

    app = AsgiFastStream(runtime.broker, asgi_routes=[("/health", health), ("/metrics", prometheus)])
    if exit_within_s is not None:  # a process of its own: a broker not ready yet is waited for, not fatal

        async def wait() -> None:
            await wait_for_kafka(runtime.settings, runtime.service)

        app.on_startup(wait)
        runtime.built_watch.exit_on_missing = True  # Redis wiped under it: exit 75, restarted, rebuilt at start
    app.on_startup(runtime.start)

    async def drain() -> None:
        if exit_within_s is not None:  # a process of its own (never a test's in-process hall)
            exit_within(exit_within_s, runtime.service)
        await runtime.drain()

    app.on_shutdown(drain)  # no new record; those being handled finish; their offsets are committed
    app.on_shutdown(runtime.stop)  # before the broker stops: commit what is done
    return app


# The standard asyncio loop, not uvloop (uvicorn's "auto" picks it when installed): on a broker killed under it,
# uvloop raises RuntimeError("the handler is closed") writing to a closed connection where asyncio does not, and
# that error ends aiokafka's group coordination routine for good: the consumer fetches nothing more (a chaos
# run's routing stood still for five minutes after a broker kill, 2026-11-30).
EVENT_LOOP = "asyncio"


# Garbage collection: what a process builds at start (its app, read models, catalogue, calendars) lives as long as
# the process. Frozen, the collector never walks it again, and the youngest generation is collected every 50,000
# allocations instead of 700, so a request or a record rarely waits for a collection (one gateway at 200 requests/s,
# 5,000 cases: p99 98–219 ms before, 16–39 ms after; README "Benchmark").
GC_THRESHOLDS = (50_000, 20, 20)


def freeze_startup_heap() -> None:
    """Collect once, freeze what is left (it stays for the process's life) and raise the collection thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def serve(runtime: ServiceRuntime) -> None:
    configure_logging()
    settings = runtime.settings
    app = asgi_app(runtime, exit_within_s=SHUTDOWN_S)
    freeze_startup_heap()
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level="warning",
        log_config=None,  # uvicorn's records go to the root logger: JSON lines (shared/logs.py)
        loop=EVENT_LOOP,
        timeout_graceful_shutdown=2,  # open HTTP requests (/health) do not hold the shutdown up
    )


def exit_within(seconds: float, service: str) -> None:
    """Shutdown has begun: if the process is still there after ``seconds`` (a client library waiting for a broker
    that is down), it ends anyway; what was done is committed by then (ServiceRuntime.drain), the rest comes
    again to the next owner of its partitions."""

    def expire() -> None:
        logging.getLogger("hall.service").error("%s: shutdown took more than %.0f s; exiting now", service, seconds)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(EXIT_REBUILD if restarting() else 1)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
