"""The whole hall in this test process, on the real Kafka and Redis, with spans kept in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.settings import HallSettings
from tests.halls import InProcessHall, asgi_client, in_process_hall, lifespan

__all__ = ["InProcessHall", "asgi_client", "lifespan"]


@pytest.fixture(scope="session")
async def hall(settings: HallSettings) -> AsyncIterator[InProcessHall]:
    async with in_process_hall(settings) as running:
        yield running
