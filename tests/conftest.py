"""Fixtures shared by every tier: a test namespace on the real Kafka and Redis."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from redis.asyncio import Redis

from shared.settings import HallSettings, load_settings
from shared.topics import ensure_topics
from tests.infra import real_infrastructure
from tests.watchdog import watching

# The tests need an install secret like every service does; ./hall test exports the one in .hall/secret, a bare
# pytest gets a strong random one for this run. The processes the e2e tests start inherit both, and demo mode
# (the demo users of data/users.toml sign in with hall2026 in the tests).
os.environ.setdefault("HALL_SECRET", secrets.token_urlsafe(48))
os.environ.setdefault("HALL_DEMO", "1")


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[tuple[str, str]]:
    with real_infrastructure() as endpoints:
        yield endpoints


@pytest.fixture(scope="session")
async def settings(infrastructure: tuple[str, str]) -> AsyncIterator[HallSettings]:
    """A namespace of its own per test session: topics, groups and Redis keys never meet a running hall's.

    Everything in the namespace (and the e2e tests' ``<namespace>p``) is removed afterwards.
    """
    kafka, redis = infrastructure
    settings = load_settings(
        kafka_bootstrap_servers=kafka,
        redis_url=redis,
        namespace=f"t{uuid.uuid4().hex[:8]}",
        reply_timeout_s=15.0,
    )
    await ensure_topics(settings)
    yield settings
    await remove_namespace(settings)


async def remove_namespace(settings: HallSettings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        ours = [t for t in await admin.list_topics() if t.startswith(settings.namespace)]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()
    client = Redis.from_url(settings.redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{settings.namespace}*", count=1000)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
    finally:
        await client.aclose()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> object:
    """A hung test prints where it waits before pytest-timeout ends it (:mod:`tests.watchdog`)."""
    with watching(item):
        return (yield)
