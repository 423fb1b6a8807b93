"""Turns a service's runtime into a runnable ASGI app with a health endpoint, and runs it."""

from __future__ import annotations

import msgspec
import uvicorn
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.types import Scope

from shared.kafka import ServiceRuntime
from shared.logs import configure_logging


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


def asgi_app(runtime: ServiceRuntime) -> AsgiFastStream:
    """The FastStream app of a service: consumes on start, answers ``GET /health``."""

    @get(include_in_schema=False)
    async def health(scope: Scope) -> AsgiResponse:  # noqa: ARG001 (the ASGI handler signature)
        body = await health_report(runtime)
        status = 200 if body["ready"] else 503
        return AsgiResponse(msgspec.json.encode(body), status, headers={"content-type": "application/json"})

    app = AsgiFastStream(runtime.broker, asgi_routes=[("/health", health)])
    app.on_startup(runtime.start)
    app.on_shutdown(runtime.stop)  # before the broker stops: commit what is done
    return app


def serve(runtime: ServiceRuntime) -> None:
    configure_logging()
    settings = runtime.settings
    uvicorn.run(asgi_app(runtime), host=settings.http_host, port=settings.http_port, log_level="warning")
