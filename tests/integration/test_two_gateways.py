"""With two gateway instances, each gets the answers to its own commands (replies are read by every instance)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.gateway.app import create_app
from shared.settings import HallSettings
from tests.integration.conftest import InProcessHall, asgi_client, lifespan
from tests.journeys import APPLICATION, CLERK, state

pytestmark = pytest.mark.integration


async def test_each_gateway_gets_its_own_answers(hall: InProcessHall, settings: HallSettings) -> None:
    second = create_app(settings, SimpleSpanProcessor(InMemorySpanExporter()))
    async with lifespan(second), asgi_client(second) as other:
        clients: list[httpx.AsyncClient] = [hall.client, other] * 4
        answers = await asyncio.gather(*(c.post("/api/cases", json=APPLICATION, headers=CLERK) for c in clients))
        assert [a.status_code for a in answers] == [201] * len(clients)
        numbers = [a.json()["case_no"] for a in answers]
        assert len(set(numbers)) == len(numbers)
        # Both read models follow every case, whichever instance accepted it.
        await state(other, numbers[0], "办理中")
        await state(hall.client, numbers[1], "办理中")
