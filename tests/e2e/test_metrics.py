"""``/metrics`` of the real processes (issue 17, item 3): after a case is submitted, intake's and routing's counters
show the events they handled, the gateway's loopback metrics port shows the request by its route template, and
no label carries the case number. Parsed with prometheus-client's own parser."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from deploy.processes import Launcher
from shared.metrics import METRICS_PORT_STEP
from tests.journeys import state, submit
from tests.support import eventually

pytestmark = pytest.mark.e2e

Samples = list[tuple[str, dict[str, str], float]]


async def scrape(port: int) -> tuple[str, Samples]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    samples = [(s.name, s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples]
    return text, samples


def handled(samples: Samples, service: str, event_type: str) -> float:
    wanted = {"service": service, "event_type": event_type, "outcome": "handled"}
    return sum(value for name, labels, value in samples if name == "hall_records_handled_total" and labels == wanted)


async def test_metrics_count_what_each_process_handled(processes: Launcher, gateway: httpx.AsyncClient) -> None:
    routing_ports = [processes.port("routing"), processes.port("routing-2")]

    async def totals() -> tuple[float, float]:
        intake = handled((await scrape(processes.port("intake")))[1], "intake", "SubmitApplication.v1")
        routing = sum([handled((await scrape(port))[1], "routing", "CaseAccepted.v1") for port in routing_ports])
        return intake, routing

    intake_before, routing_before = await totals()
    case_no = await submit(gateway)
    await state(gateway, case_no, "办理中")  # routing has opened the first step

    async def moved() -> tuple[float, float] | None:
        intake, routing = await totals()
        return (intake, routing) if intake > intake_before and routing > routing_before else None

    intake_after, routing_after = await eventually(moved, timeout_s=10)
    assert intake_after == intake_before + 1
    assert routing_after == routing_before + 1

    text, samples = await scrape(processes.port("intake"))
    latency = [v for n, labels, v in samples if n == "hall_handler_seconds_count" and labels["service"] == "intake"]
    assert sum(latency) >= 1
    lag = [labels for n, labels, _ in samples if n == "hall_consumer_lag" and labels["service"] == "intake"]
    assert lag, "intake's consumer lag per partition is missing"
    assert case_no not in text

    # The gateway: not on its public port, on its loopback metrics port, by route template and status.
    assert (await gateway.get("/metrics")).status_code == 404
    text, samples = await scrape(processes.port("gateway") + METRICS_PORT_STEP)
    posted = {"method": "POST", "route": "/api/cases", "status": "201"}
    assert any(n == "hall_http_request_seconds_count" and labels == posted and v >= 1 for n, labels, v in samples)
    routes = {labels["route"] for n, labels, _ in samples if n == "hall_http_request_seconds_count"}
    assert "/api/cases/{case_no}" in routes  # the template, never the number
    assert case_no not in text
