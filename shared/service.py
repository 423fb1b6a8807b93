"""Turns a service's runtime into a runnable ASGI app with a health endpoint, and runs it."""

from __future__ import annotations

import uvicorn
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.types import Scope
from redis.exceptions import RedisError

from shared.kafka import ServiceRuntime
from shared.logs import configure_logging


def asgi_app(runtime: ServiceRuntime) -> AsgiFastStream:
    """The FastStream app of a service: consumes on start, answers ``GET /health``."""

    @get(include_in_schema=False)
    async def health(scope: Scope) -> AsgiResponse:  # noqa: ARG001 (the ASGI handler signature)
        broker_ok = await runtime.broker.ping(timeout=2.0)
        try:
            redis_ok = bool(await runtime.redis.ping())
        except (RedisError, RuntimeError):
            redis_ok = False
        ok = broker_ok and redis_ok
        body = f'{{"service":"{runtime.service}","kafka":{str(broker_ok).lower()},"redis":{str(redis_ok).lower()}}}'
        return AsgiResponse(body.encode(), 200 if ok else 503, headers={"content-type": "application/json"})

    app = AsgiFastStream(runtime.broker, asgi_routes=[("/health", health)])
    app.on_startup(runtime.start)
    app.on_shutdown(runtime.stop)  # before the broker stops: commit what is done
    return app


def serve(runtime: ServiceRuntime) -> None:
    configure_logging()
    settings = runtime.settings
    uvicorn.run(asgi_app(runtime), host=settings.http_host, port=settings.http_port, log_level="warning")
