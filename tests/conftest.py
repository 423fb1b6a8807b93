"""Fixtures shared by every tier: a test namespace on the real Kafka and Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from shared.kafka import ensure_topics
from shared.settings import HallSettings, load_settings
from tests.infra import real_infrastructure


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[tuple[str, str]]:
    with real_infrastructure() as endpoints:
        yield endpoints


@pytest.fixture(scope="session")
async def settings(infrastructure: tuple[str, str]) -> HallSettings:
    """A namespace of its own per test session: topics, groups and Redis keys never meet a running hall's."""
    kafka, redis = infrastructure
    settings = load_settings(
        kafka_bootstrap_servers=kafka,
        redis_url=redis,
        namespace=f"t{uuid.uuid4().hex[:8]}",
        reply_timeout_s=15.0,
    )
    await ensure_topics(settings)
    return settings


@pytest.fixture(scope="session")
async def redis(settings: HallSettings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    yield client
    await client.aclose()
