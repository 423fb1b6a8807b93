"""A request gets a trace id when the gateway's spans go nowhere (services/gateway/request_trace.py): the caller's
from its traceparent, else a new one, on a span that records nothing."""

from __future__ import annotations

from litestar import Litestar, get
from litestar.testing import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from services.gateway.request_trace import RequestTrace

CALLER = "4bf92f3577b34da6a3ce929d0e0e4736"


@get("/here", sync_to_thread=False)
def here() -> dict[str, object]:
    span = trace.get_current_span()
    context = span.get_span_context()
    return {"trace_id": f"{context.trace_id:032x}", "valid": context.is_valid, "recording": span.is_recording()}


def app() -> Litestar:
    tracer = TracerProvider(sampler=ALWAYS_OFF).get_tracer("test")
    return Litestar([here], middleware=[RequestTrace(tracer)])


def test_each_request_has_a_trace_id_of_its_own_and_records_nothing() -> None:
    with TestClient(app()) as client:
        first, second = client.get("/here").json(), client.get("/here").json()
    assert first["valid"]
    assert not first["recording"]
    assert first["trace_id"] != second["trace_id"]


def test_the_callers_trace_is_followed() -> None:
    with TestClient(app()) as client:
        answer = client.get("/here", headers={"traceparent": f"00-{CALLER}-00f067aa0ba902b7-01"}).json()
    assert answer["trace_id"] == CALLER
