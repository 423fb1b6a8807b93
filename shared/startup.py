"""Start-up on a broker that is not ready yet: wait for Kafka and the group coordinator instead of exiting.

A brand-new broker answers ``GroupCoordinatorNotAvailableError`` (and its kin) until it has created its internal
offsets topic; a broker still starting refuses connections. A service starting meanwhile retries with backoff for
up to :data:`START_WAIT_S` before it gives up (then it exits as before, and ``./hall status`` says so).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from shared.settings import HallSettings

log = logging.getLogger("hall.startup")
START_WAIT_S = 60.0
T = TypeVar("T")


async def retry_kafka(what: str, attempt: Callable[[], Awaitable[T]], limit_s: float = START_WAIT_S) -> T:
    """``attempt()``, tried again on any Kafka error with jittered backoff (0.5 s doubling to 5 s) for
    ``limit_s``; the last error is raised past that."""
    started, delay, tries = time.monotonic(), 0.5, 0
    while True:
        tries += 1
        try:
            return await attempt()
        except KafkaError as exc:
            waited = time.monotonic() - started
            if waited + delay > limit_s:
                log.error("%s: Kafka not ready after %.0f s (%d attempts): %r", what, waited, tries, exc)
                raise
            log.warning("%s: Kafka not ready (%r), retry in %.1f s", what, exc, delay)
        await asyncio.sleep(delay * (0.5 + random.random() / 2))  # noqa: S311 (jitter, not a secret)
        delay = min(5.0, delay * 2)


async def wait_for_kafka(settings: HallSettings, service: str, limit_s: float = START_WAIT_S) -> None:
    """Returns once the broker answers and the service's group coordinator is available."""
    group = f"{settings.namespace}.{service}"

    async def ask() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=5000)
        await admin.start()
        try:
            await admin.list_consumer_group_offsets(group)
        finally:
            await admin.close()

    await retry_kafka(f"{service} start-up", ask, limit_s)
