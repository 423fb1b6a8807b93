"""``./hall rebuild SERVICE``: wipe one service's keys in the namespace and rebuild them from Kafka.

The service must be stopped (it would consume while its keys are missing); ``./hall up`` starts it again. Every
service also rebuilds by itself when it starts on a Redis without its ``built`` key.
"""

from __future__ import annotations

import time
from typing import Any

from redis.asyncio import Redis

from services.evaluation.app import build as build_evaluation
from services.evaluation.rebuild import rebuild as evaluation
from services.gateway.app import build as build_gateway
from services.gateway.rebuild import rebuild as gateway
from services.intake.rebuild import rebuild as intake
from services.routing.app import build as build_routing
from services.routing.rebuild import rebuild as routing
from services.timing.app import build as build_timing
from services.timing.engine import Engine
from services.timing.rebuild import rebuild_if_wiped
from services.timing.store import Keys
from shared.catalogue import load_catalogue
from shared.kafka import ServiceRuntime
from shared.pii import for_settings
from shared.rating_policy import load_policy
from shared.rebuild import built_key, wipe
from shared.settings import HallSettings

SERVICES = ("intake", "routing", "timing", "evaluation", "gateway")


async def rebuild(settings: HallSettings, service: str) -> str:
    """Rebuild ``service``'s Redis from Kafka; returns what was folded and how long it took."""
    redis: Any = Redis.from_url(settings.redis_url)
    started = time.monotonic()
    try:
        summary = await _rebuild(settings, service, redis)
    finally:
        await redis.aclose()
    return f"{service}: {summary} ({time.monotonic() - started:.1f} s)"


async def _rebuild(settings: HallSettings, service: str, redis: Any) -> str:
    if service == "intake":
        return await intake(settings, redis, load_catalogue(), for_settings(settings), force=True) or ""
    if service == "routing":
        return await routing(settings, redis, build_routing(settings).publications, force=True) or ""
    if service == "evaluation":
        runtime = build_evaluation(settings)
        return await evaluation(settings, redis, runtime.publications, load_policy(), force=True) or ""
    if service == "gateway":
        runtime = build_gateway(settings).hall.runtime
        _, tables = runtime.subscriptions[0]
        return await gateway(settings, redis, tables, runtime.publications, force=True) or ""
    if service == "timing":
        return await _timing(settings, redis)
    raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")


async def _timing(settings: HallSettings, redis: Any) -> str:
    """Timing rebuilds itself from ``timing.events`` once its keys are gone (services/timing/rebuild.py)."""

    await wipe(redis, settings.namespace, "timing")
    runtime: Any = build_timing(settings)
    engine: Engine = runtime.engine
    await ServiceRuntime.start(runtime)  # Redis only: no scheduler, nothing consumed
    try:
        await engine.refresh(runtime.redis, Keys(settings))
        folded = await rebuild_if_wiped(runtime, engine)
    finally:
        await ServiceRuntime.stop(runtime)
    built = await redis.get(built_key(settings.namespace, "timing"))
    clocks = len(folded.clocks) if folded is not None else 0
    return f"{int(built or 0)} events: {clocks} clocks"
