"""One trace follows a case from the clerk's HTTP request through every service, over the real Kafka."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind

from tests.integration.conftest import InProcessHall
from tests.journeys import submit
from tests.support import eventually

pytestmark = pytest.mark.integration
SERVICES = {"gateway", "intake", "routing", "timing", "evaluation"}


async def test_one_trace_id_links_the_request_with_every_service(hall: InProcessHall) -> None:
    hall.spans.clear()
    await submit(hall.client)
    request_span = next(
        s for s in hall.spans.get_finished_spans() if s.kind == SpanKind.SERVER and s.name.startswith("POST")
    )
    trace_id = request_span.context.trace_id

    async def services_in_trace() -> set[str] | None:
        # Consumer spans of every service (the gateway's own request span ends before its consumer's does).
        seen = {
            str(s.resource.attributes["service.name"])
            for s in hall.spans.get_finished_spans()
            if s.context.trace_id == trace_id and s.kind == SpanKind.CONSUMER
        }
        return seen if seen >= SERVICES else None

    seen = await eventually(services_in_trace)
    assert seen == SERVICES
    consumers = [
        s for s in hall.spans.get_finished_spans() if s.context.trace_id == trace_id and s.kind == SpanKind.CONSUMER
    ]
    # intake handles the command; routing, timing, evaluation and the gateway's read model the event.
    assert {str(s.resource.attributes["service.name"]) for s in consumers} == SERVICES
