"""shared/metrics.py and the gateway's HTTP metrics: what the consume path and the middleware record, in the
Prometheus text that ``/metrics`` serves, parsed with prometheus-client's own parser."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiokafka.errors import KafkaConnectionError
from litestar import Litestar, get
from litestar.params import FromPath
from litestar.response import ServerSentEvent
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families
from redis import exceptions as redis_errors

from services.gateway.metrics import http_metrics
from shared import metrics
from shared.kafka import NotYet

SERVICE = "unit-metrics"  # a service of its own: the registry is the process's, shared with other tests


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def parsed() -> dict[str, list[tuple[dict[str, str], float]]]:
    families: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for s in family.samples:
            families.setdefault(s.name, []).append((s.labels, s.value))
    return families


def test_a_handled_record_moves_the_histogram_and_the_counter() -> None:
    before_count = sample("hall_handler_seconds_count", service=SERVICE, event_type="CaseAccepted.v1")
    before_fast = sample("hall_handler_seconds_bucket", service=SERVICE, event_type="CaseAccepted.v1", le="0.005")
    before_handled = sample(
        "hall_records_handled_total", service=SERVICE, event_type="CaseAccepted.v1", outcome=metrics.HANDLED
    )

    metrics.handled(SERVICE, "CaseAccepted.v1", 0.003)
    metrics.handled(SERVICE, "CaseAccepted.v1", 0.2)

    assert sample("hall_handler_seconds_count", service=SERVICE, event_type="CaseAccepted.v1") == before_count + 2
    assert (
        sample("hall_handler_seconds_bucket", service=SERVICE, event_type="CaseAccepted.v1", le="0.005")
        == before_fast + 1
    )
    handled = sample(
        "hall_records_handled_total", service=SERVICE, event_type="CaseAccepted.v1", outcome=metrics.HANDLED
    )
    assert handled == before_handled + 2
    # The same numbers in the text format Prometheus scrapes.
    rows = parsed()["hall_records_handled_total"]
    wanted = {"service": SERVICE, "event_type": "CaseAccepted.v1", "outcome": "handled"}
    assert [value for labels, value in rows if labels == wanted] == [handled]


def test_retries_and_dead_letters_are_counted_by_outcome_and_reason() -> None:
    metrics.failed(SERVICE, "StepDecided.v1", metrics.RETRIED)
    metrics.failed(SERVICE, "StepDecided.v1", metrics.DEAD_LETTERED)
    metrics.dead_lettered(SERVICE, "handler_failed")
    for outcome in (metrics.RETRIED, metrics.DEAD_LETTERED):
        assert sample("hall_records_handled_total", service=SERVICE, event_type="StepDecided.v1", outcome=outcome) >= 1
    assert sample("hall_dead_letters_total", service=SERVICE, reason="handler_failed") >= 1
    assert sample("hall_records_handled_total", service=SERVICE, event_type="StepDecided.v1", outcome="handled") == 0


def test_redis_and_kafka_errors_are_told_apart_and_others_are_not_counted() -> None:
    redis_before = sample("hall_redis_errors_total", service=SERVICE)
    kafka_before = sample("hall_kafka_errors_total", service=SERVICE)
    metrics.error(SERVICE, redis_errors.ConnectionError("gone"))
    metrics.error(SERVICE, KafkaConnectionError())
    try:
        try:
            raise redis_errors.TimeoutError("slow")
        except redis_errors.TimeoutError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        metrics.error(SERVICE, wrapped)  # a Redis error under another one still counts as Redis
    metrics.error(SERVICE, NotYet("later"))
    metrics.error(SERVICE, ValueError("a bug"))
    assert sample("hall_redis_errors_total", service=SERVICE) == redis_before + 2
    assert sample("hall_kafka_errors_total", service=SERVICE) == kafka_before + 1


def test_lag_is_served_per_partition_and_replaced_at_each_refresh() -> None:
    metrics.lag.set(SERVICE, {("hall.cases", 0): 7, ("hall.cases", 2): 0})
    rows = [(labels, value) for labels, value in parsed()["hall_consumer_lag"] if labels["service"] == SERVICE]
    assert sorted((labels["partition"], value) for labels, value in rows) == [("0", 7.0), ("2", 0.0)]
    metrics.lag.set(SERVICE, {("hall.cases", 1): 3})  # partitions moved away: gone from the answer
    rows = [(labels, value) for labels, value in parsed()["hall_consumer_lag"] if labels["service"] == SERVICE]
    assert [(labels["partition"], value) for labels, value in rows] == [("1", 3.0)]
    metrics.lag.set(SERVICE, {})


def test_the_gateway_labels_requests_by_route_template_never_by_path() -> None:
    @get("/api/cases/{case_no:str}")
    async def case(case_no: FromPath[str]) -> dict[str, str]:
        return {"case_no": case_no}

    app = Litestar(route_handlers=[case], middleware=[http_metrics])
    template = "/api/cases/{case_no}"  # Litestar's path format: the parameter's name, not its value
    before = sample("hall_http_request_seconds_count", method="GET", route=template, status="200")
    with TestClient(app) as client:
        assert client.get("/api/cases/15052520261130000007").status_code == 200
        assert client.get("/api/cases/15052520261130000008").status_code == 200
    assert sample("hall_http_request_seconds_count", method="GET", route=template, status="200") == before + 2
    assert "15052520261130000007" not in metrics.exposition().decode()


def test_an_open_sse_stream_is_counted_until_it_ends() -> None:
    @get("/stream")
    async def stream() -> ServerSentEvent:
        async def updates() -> AsyncIterator[str]:
            yield str(sample("hall_sse_clients"))  # what /metrics says while this stream is open

        return ServerSentEvent(updates())

    app = Litestar(route_handlers=[stream], middleware=[http_metrics])
    before = sample("hall_sse_clients")
    with TestClient(app) as client:
        body = client.get("/stream").text
    assert f"data: {before + 1}" in body
    assert sample("hall_sse_clients") == before
    assert sample("hall_http_request_seconds_count", method="GET", route="/stream", status="200") >= 1
