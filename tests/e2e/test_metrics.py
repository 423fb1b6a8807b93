"""``/metrics`` of the real processes (issue 17, item 3): after a case is submitted, the counters of intake,
routing, timing and evaluation (over their instances) show the record each handled, once; intake shows its
handler latency and its lag per partition; the gateway's loopback metrics port shows the requests by route template
and status; no label carries the case number. Parsed with prometheus-client's own parser."""

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


# What each service handles when a clerk submits a case, over its instances (routing, timing, evaluation run twice).
HANDLES = {
    "intake": ("SubmitApplication.v1", ["intake"]),
    "routing": ("CaseAccepted.v1", ["routing", "routing-2"]),
    "timing": ("CaseAccepted.v1", ["timing", "timing-2"]),
    "evaluation": ("CaseAccepted.v1", ["evaluation", "evaluation-2"]),
}


async def test_metrics_count_what_each_process_handled(processes: Launcher, gateway: httpx.AsyncClient) -> None:
    async def totals() -> dict[str, float]:
        counted: dict[str, float] = {}
        for service, (event_type, names) in HANDLES.items():
            scraped = [(await scrape(processes.port(name)))[1] for name in names]
            counted[service] = sum(handled(samples, service, event_type) for samples in scraped)
        return counted

    before = await totals()
    case_no = await submit(gateway)
    await state(gateway, case_no, "办理中")  # routing has opened the first step

    async def moved() -> dict[str, float] | None:
        now = await totals()
        return now if all(now[service] > before[service] for service in HANDLES) else None

    after = await eventually(moved, timeout_s=10)
    assert after == {service: before[service] + 1 for service in HANDLES}  # once each, by one instance

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
    clocks = {(labels["purpose"], labels["status"]) for n, labels, _ in samples if n == "hall_clocks"}
    assert {("全部", "正常"), ("全部", "逾期"), ("办件", "预警")} <= clocks  # the board's counts, refreshed every 5 s
    assert case_no not in text
