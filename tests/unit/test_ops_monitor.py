"""运行监控 (/ops): the instance registry's addresses and the page's reading of Prometheus text: p99 from a
histogram's buckets, throughput over the last minute, a restart's counters, masked keys."""

from __future__ import annotations

import math

import msgspec
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from services.gateway.ops.deadletters import masked_key
from services.gateway.ops.monitor import Figures, Monitor, _Samples, parse, quantile
from shared.instances import addresses, instance_name
from shared.settings import load_settings


def test_a_service_answers_metrics_on_its_http_port_the_gateway_on_its_own() -> None:
    settings = msgspec.structs.replace(load_settings(), http_host="0.0.0.0", http_port=9102, metrics_port=-1)  # noqa: S104
    assert addresses(settings, "routing") == ("127.0.0.1:9102", "127.0.0.1:9102")
    assert addresses(settings, "gateway") == ("127.0.0.1:9102", "127.0.0.1:9202")
    off = msgspec.structs.replace(settings, metrics_port=0)
    assert addresses(off, "gateway") == ("127.0.0.1:9102", "")


def test_the_instance_name_is_the_launchers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALL_INSTANCE", "routing-2")
    assert instance_name("routing") == "routing-2"
    monkeypatch.delenv("HALL_INSTANCE")
    assert instance_name("routing") == "routing"


def exposition(service: str, latencies: list[float], handled: int, lag: dict[int, int]) -> str:
    registry = CollectorRegistry()
    seconds = Histogram(
        "hall_handler_seconds", "", ["service", "event_type"], registry=registry, buckets=(0.01, 0.1, 1)
    )
    records = Counter("hall_records_handled", "", ["service", "event_type", "outcome"], registry=registry)
    dead = Counter("hall_dead_letters", "", ["service", "reason"], registry=registry)
    gauge = Gauge("hall_consumer_lag", "", ["service", "topic", "partition"], registry=registry)
    for latency in latencies:
        seconds.labels(service, "A.v1").observe(latency)
    records.labels(service, "A.v1", "handled").inc(handled)
    records.labels(service, "A.v1", "retried").inc(7)  # not handled: not counted
    records.labels("other", "A.v1", "handled").inc(1000)  # another service in the same process: not counted
    dead.labels(service, "malformed").inc(2)
    for partition, n in lag.items():
        gauge.labels(service, "t", str(partition)).set(n)
    return generate_latest(registry).decode()


def test_figures_are_read_from_the_services_samples_only() -> None:
    figures = parse(exposition("routing", [0.005] * 98 + [0.5, 0.5], 100, {0: 3, 1: 4}), "routing")
    assert figures.handled == 100
    assert figures.dead_letters == 2
    assert figures.lag == 7
    assert figures.buckets[math.inf] == 100
    p99 = quantile(0.99, figures.buckets)
    assert p99 is not None
    assert 0.1 < p99 <= 1.0  # the 99th of 100 is one of the two slow ones
    assert parse(exposition("routing", [], 0, {}), "routing").lag is None  # no partition assigned: unknown


def test_quantile_of_an_empty_histogram_is_unknown_and_the_inf_bucket_gives_the_highest_bound() -> None:
    assert quantile(0.99, {}) is None
    assert quantile(0.99, {0.1: 0.0, math.inf: 0.0}) is None
    assert quantile(0.99, {0.1: 0.0, 1.0: 0.0, math.inf: 5.0}) == 1.0


def test_throughput_is_over_the_last_minute_and_a_restart_starts_again() -> None:
    samples = _Samples()

    def at(t: float, handled: float) -> tuple[float | None, float | None, str]:
        return samples.add(
            t, Figures(handled=handled, buckets={0.01: handled, math.inf: handled}, lag=0, dead_letters=0)
        )

    assert at(0.0, 0)[0] is None  # one sample: not known yet
    assert at(10.0, 50)[0] == pytest.approx(5.0)
    assert at(70.0, 350)[0] == pytest.approx(5.0)  # the sample at 0 s is past the minute: from 10 s
    rate, p99, window = at(100.0, 650)
    assert rate == pytest.approx(600 / 90)  # 10 s is past the minute: from 10 s still is the oldest within reach
    assert window == "近 1 分钟"
    assert p99 is not None
    assert at(105.0, 3)[0] is None  # the counter went back: the process restarted


def test_a_key_like_an_id_number_or_a_phone_is_masked() -> None:
    assert masked_key("150525199001011234") == "150***********1234"
    assert masked_key("id:15052519900101123X") == "id:150***********123X"
    assert masked_key("13912345678") == "139****5678"
    assert masked_key("0af7651916cd43dd8448eb211c80319c") == "0af7651916cd43dd8448eb211c80319c"
    assert masked_key(None) is None


def test_the_trace_link_searches_zipkin_by_service_and_only_zipkin() -> None:
    settings = load_settings()
    link = Monitor(settings, "http://127.0.0.1:9411/").traces("routing-x")
    assert link is not None
    assert link.startswith("http://127.0.0.1:9411/zipkin/?serviceName=routing-x&lookback=1h&endTs=")
    assert Monitor(settings, "").traces("routing") is None  # no traces UI: no link
    assert Monitor(settings, "http://jaeger:16686/trace/{trace_id}").traces("routing") is None  # one trace each
