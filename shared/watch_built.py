"""Noticing a Redis wiped (or replaced by an empty one) under a running service, and restarting to rebuild.

A service that starts on an empty Redis rebuilds it from Kafka before it consumes (:mod:`shared.rebuild`), and
then holds its ``<ns>:<service>:built`` key. :class:`BuiltWatch` checks that key every ``WATCH_S`` seconds, and
the consume path checks it before each record: once Redis answers without it, the service's state is gone and
nothing it would write can be trusted (an intake would hand out case numbers again from 1). From then on the
service handles no record, the gateway answers 503 with Retry-After, ``/health`` reports it, and a process of its
own drains (records being handled finish, offsets of those done are committed) and exits with :data:`EXIT_REBUILD`
(75, EX_TEMPFAIL): its supervisor (``deploy/supervise.py``,
``restart: unless-stopped`` under docker compose) starts it again, and it rebuilds from Kafka as at any start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Awaitable, Callable

from redis import exceptions as redis_errors
from redis.asyncio import Redis

log = logging.getLogger("hall.watch_built")

EXIT_REBUILD = 75  # EX_TEMPFAIL: "start me again"; the supervisor restarts on this code only
WATCH_S = 2.0
EXIT_WITHIN_S = 20.0  # from the wipe seen to the process gone, whatever the shutdown hooks wait for


class BuiltWatch:
    """Watches one service's ``built`` key. It arms itself the first time it sees the key (after the start-up
    rebuild), so a runtime that never built (a unit test's) is never refused anything."""

    def __init__(self, service: str, key: str, redis: Callable[[], Redis], *, every_s: float = WATCH_S) -> None:
        self.service = service
        self.key = key
        self.redis = redis
        self.every_s = every_s
        self.armed = False
        self.missing = False  # once seen missing, for the rest of the process's life
        self.exit_on_missing = False  # a process of its own: exit with EXIT_REBUILD to be restarted
        self.before_exit: Callable[[], Awaitable[None]] | None = None  # the drain
        self._task: asyncio.Task[None] | None = None

    def problem(self) -> str | None:
        """A health check: the reason the service is not ready, or None."""
        if self.missing:
            return f"Redis 已被清空（{self.key} 不存在），重启后从 Kafka 重建 (Redis wiped: restarting to rebuild)"
        return None

    async def check(self) -> bool:
        """False when Redis answers without the key (the service's state is gone); True otherwise, including when
        Redis does not answer (that is an outage, retried as such, not a wipe)."""
        if self.missing:
            return False
        try:
            present = bool(await self.redis().exists(self.key))
        except (redis_errors.RedisError, OSError, RuntimeError):
            return True
        return self.seen(present)

    def seen(self, present: bool) -> bool:
        """What :meth:`check` concludes once it knows whether the key is there (the consume path reads it in the
        round trip that reads its event's marker: :func:`shared.outbox.run_once`)."""
        if self.missing:
            return False
        if present:
            self.armed = True
            return True
        if not self.armed:
            return True
        self.missing = True
        log.error(
            "%s: Redis answers without %s: its state was wiped under the running service; handling nothing more%s",
            self.service,
            self.key,
            f", exiting with {EXIT_REBUILD} to be restarted and rebuild from Kafka" if self.exit_on_missing else "",
        )
        if self.exit_on_missing:
            exit_to_restart(self.service, self.before_exit)
        return False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"{self.service}-built-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while not self.missing:
            await self.check()
            await asyncio.sleep(self.every_s)


_exiting = threading.Lock()
_exit_tasks: set[asyncio.Task[None]] = set()


def exit_to_restart(
    service: str, before_exit: Callable[[], Awaitable[None]] | None, *, why: str = "Redis wiped"
) -> None:
    """End this process with :data:`EXIT_REBUILD` ("start me again"; a start on a wiped Redis rebuilds it): after
    ``before_exit`` (the drain) in a task of its own (the caller may be a record being handled, which the drain
    waits for), within :data:`EXIT_WITHIN_S` at the latest."""
    if not _exiting.acquire(blocking=False):
        return

    def leave() -> None:
        for handler in logging.getLogger().handlers:
            with contextlib.suppress(Exception):
                handler.flush()
        os._exit(EXIT_REBUILD)

    def expire() -> None:
        log.error(
            "%s: the drain before restarting (%s) took more than %.0f s; exiting now", service, why, EXIT_WITHIN_S
        )
        leave()

    async def drain_and_leave() -> None:
        try:
            if before_exit is not None:
                await before_exit()
        except Exception:
            log.exception("%s: the drain before restarting (%s) failed", service, why)
        log.warning("%s: exiting with %d to be restarted (%s)", service, EXIT_REBUILD, why)
        leave()

    timer = threading.Timer(EXIT_WITHIN_S, expire)
    timer.daemon = True
    timer.start()
    task = asyncio.get_running_loop().create_task(drain_and_leave(), name=f"{service}-exit-to-rebuild")
    _exit_tasks.add(task)


def restarting() -> bool:
    """True once this process has begun to exit with :data:`EXIT_REBUILD`."""
    return _exiting.locked()
