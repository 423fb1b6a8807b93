"""The instance registry: which hall processes run, and where to ask them how they are.

Every process with a :class:`shared.kafka.ServiceRuntime` (the four services and the gateway, every instance of
each) writes itself into the Redis hash ``<ns>:ops:instances`` once Redis is connected, and again every
``REFRESH_S`` seconds: field = the instance's name (``routing-2``: ``HALL_INSTANCE``, which deploy/processes.py's
Launcher sets as ``./hall up`` names it; else the service's name), value = JSON with its service, the host:port of
its ``/health`` and of its ``/metrics`` (the gateway's loopback metrics port, shared/metrics.py), its PID and when
it was last seen. A stopping process removes its field; a killed one stops refreshing it: the operations page
(``/ops``) shows an instance not seen for ``STALE_S`` as 失联 and forgets it after ``FORGET_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta

import msgspec
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from shared.clock import SYSTEM_CLOCK, Clock
from shared.metrics import metrics_address
from shared.settings import HallSettings

log = logging.getLogger("hall.instances")

REFRESH_S = 5.0
STALE_S = 20.0  # not seen for this long (four refreshes missed): 失联
FORGET_S = 600.0  # not seen for ten minutes: removed from the registry by whoever reads it
ANY_HOST = {"", "0.0.0.0", "::"}  # noqa: S104 (names the wildcard to replace it with loopback, binds nothing)


class Instance(msgspec.Struct, frozen=True, kw_only=True):
    service: str
    instance: str
    address: str  # host:port of /health
    metrics: str  # host:port of /metrics ("" when the process serves none)
    pid: int
    started_at: str
    last_seen: str  # ISO 8601

    def seen_at(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.last_seen)
        except ValueError:
            return None


def registry_key(settings: HallSettings) -> str:
    return settings.key("ops", "instances")


def instance_name(service: str) -> str:
    """``HALL_INSTANCE`` (set by the Launcher: ``routing-2``) or the service's own name."""
    return os.environ.get("HALL_INSTANCE", "") or service


def _host(host: str) -> str:
    return "127.0.0.1" if host in ANY_HOST else host


def addresses(settings: HallSettings, service: str) -> tuple[str, str]:
    """Where this process answers ``/health`` and ``/metrics``: the gateway's metrics are on a port of their own
    (HTTP + 100 by default, 0 = none), a service's on its HTTP port."""
    health = f"{_host(settings.http_host)}:{settings.http_port}"
    if service != "gateway":
        return health, health
    host, port = metrics_address(settings)
    return health, f"{_host(host)}:{port}" if port else ""


class Registration:
    """This process's entry in the registry, refreshed in the background while it runs."""

    def __init__(
        self, settings: HallSettings, service: str, redis: Callable[[], Redis], clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.key = registry_key(settings)
        self.name = instance_name(service)
        self.redis = redis
        self.clock = clock
        health, metrics = addresses(settings, service)
        self.entry = Instance(
            service=service,
            instance=self.name,
            address=health,
            metrics=metrics,
            pid=os.getpid(),
            started_at=clock.now().isoformat(),
            last_seen="",
        )
        self._task: asyncio.Task[None] | None = None

    async def beat(self) -> None:
        """Writes the entry with the time now (a Redis error is logged at DEBUG: the next beat tries again)."""
        entry = msgspec.structs.replace(self.entry, last_seen=self.clock.now().isoformat())
        try:
            await self.redis().hset(self.key, self.name, msgspec.json.encode(entry))
        except (redis_errors.RedisError, OSError, RuntimeError) as exc:
            log.debug("instance registry: %s not refreshed: %s", self.name, exc)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._refresh(), name=f"instance registry {self.name}")

    async def _refresh(self) -> None:
        while True:
            await self.beat()
            await asyncio.sleep(REFRESH_S)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(redis_errors.RedisError, OSError, RuntimeError):
            await self.redis().hdel(self.key, self.name)


def _order(found: Instance) -> tuple[str, int, str]:
    _, _, n = found.instance.rpartition("-")
    return found.service, int(n) if n.isdigit() else 1, found.instance


async def registered(redis: Redis, settings: HallSettings, now: datetime) -> list[Instance]:
    """Every instance in the registry by service and number; those not seen for ``FORGET_S`` are removed."""
    raw = await redis.hgetall(registry_key(settings))
    found: list[Instance] = []
    forget: list[bytes | str] = []
    for field, value in raw.items():
        try:
            entry = msgspec.json.decode(value, type=Instance)
        except (msgspec.DecodeError, msgspec.ValidationError):
            forget.append(field)
            continue
        seen = entry.seen_at()
        if seen is None or now - seen > timedelta(seconds=FORGET_S):
            forget.append(field)
            continue
        found.append(entry)
    if forget:
        await redis.hdel(registry_key(settings), *forget)
    return sorted(found, key=_order)


def is_stale(entry: Instance, now: datetime) -> bool:
    seen = entry.seen_at()
    return seen is None or now - seen > timedelta(seconds=STALE_S)
