"""The security tier: the whole hall in this test process, on the real Kafka and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.settings import HallSettings
from tests.halls import InProcessHall, fresh_settings, in_process_hall


@pytest.fixture(scope="session")
async def hall(settings: HallSettings) -> AsyncIterator[InProcessHall]:
    """A hall of its own namespace: never sharing consumer groups with the integration tier's hall."""
    async with in_process_hall(await fresh_settings(settings)) as running:
        yield running
