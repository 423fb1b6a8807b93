"""Prometheus metrics of a hall process: one registry per process, served as text at ``GET /metrics``.

Every service (shared/service.py) serves it on its health port; the gateway on a loopback-only port of its own
(services/gateway/metrics.py). Label values are only ever a service, an event type, a route template, a status, a
topic and partition, or an outcome: never a case number, a name or any other personal data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis import exceptions as redis_errors

from shared.settings import HallSettings

log = logging.getLogger("hall.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# One registry per process (never prometheus_client's global one: its process and platform collectors are left
# out, and a test's in-process hall, several services in one process, shares this one by the ``service`` label).
REGISTRY = CollectorRegistry(auto_describe=True)

# Handlers take milliseconds (a Redis round trip or two) up to seconds (a publish waiting for Kafka).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# What became of one attempt at a record.
HANDLED = "handled"  # its effects are done (or were done before: the outbox marker)
RETRIED = "retried"  # it failed and comes again (a transient failure, or a failure before MAX_ATTEMPTS)
WAITING = "waiting"  # it depends on a record not handled yet (NotYet): comes again
DEAD_LETTERED = "dead_lettered"  # sent to the dead-letter topic
OUTCOMES = (HANDLED, RETRIED, WAITING, DEAD_LETTERED)

# The event type of a record whose envelope could not be read (its ``type`` is unknown or untrusted).
UNREADABLE = "-"

handler_seconds = Histogram(
    "hall_handler_seconds",
    "Time to handle one record (its handlers, the outbox and the publish), by service and event type",
    ["service", "event_type"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
records_handled = Counter(
    "hall_records_handled",
    "Attempts at records, by service, event type and outcome (handled, retried, waiting, dead_lettered)",
    ["service", "event_type", "outcome"],
    registry=REGISTRY,
)
dead_letters = Counter(
    "hall_dead_letters",
    "Records sent to the dead-letter topic, by service and reason (malformed, invalid_payload, handler_failed)",
    ["service", "reason"],
    registry=REGISTRY,
)
redis_errors_total = Counter(
    "hall_redis_errors", "Redis errors met while handling records, by service", ["service"], registry=REGISTRY
)
kafka_errors_total = Counter(
    "hall_kafka_errors", "Kafka errors met while handling records, by service", ["service"], registry=REGISTRY
)
http_seconds = Histogram(
    "hall_http_request_seconds",
    "Gateway HTTP requests by method, route template and status (an SSE stream: until its headers are sent)",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
alerts_fired = Counter(
    "hall_alerts_fired",
    "Clock alerts raised by timing's scheduler, by level (预警, 逾期, 督办, 通报)",
    ["level"],
    registry=REGISTRY,
)
clocks = Gauge(
    "hall_clocks",
    "Running clocks by the SLA board's purpose filter (全部, 办件, 环节, ...) and status (正常, 预警, 逾期, 暂停: the "
    "paused ones, also counted in their status), from the board's counts (the gateway, every 5 s)",
    ["purpose", "status"],
    registry=REGISTRY,
)
sse_clients = Gauge(
    "hall_sse_clients", "Open server-sent-event streams (the live SLA board, the operations page)", registry=REGISTRY
)


def handled(service: str, event_type: str, seconds: float) -> None:
    """A record's effects are done: its latency and one ``handled``."""
    handler_seconds.labels(service, event_type).observe(seconds)
    records_handled.labels(service, event_type, HANDLED).inc()


def failed(service: str, event_type: str, outcome: str) -> None:
    """An attempt that did not finish the record: ``retried``, ``waiting`` or ``dead_lettered``."""
    records_handled.labels(service, event_type, outcome).inc()


def dead_lettered(service: str, reason: str) -> None:
    dead_letters.labels(service, reason).inc()


def error(service: str, exc: BaseException) -> None:
    """Counts a failure that reached the consume path, if Redis or Kafka raised it."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:  # the outbox wraps some errors: look at their causes too
        seen.add(id(cause))
        if isinstance(cause, redis_errors.RedisError):
            redis_errors_total.labels(service).inc()
            return
        if isinstance(cause, KafkaError):
            kafka_errors_total.labels(service).inc()
            return
        cause = cause.__cause__ or cause.__context__


class Lag(Collector):
    """``hall_consumer_lag``: records not yet consumed per partition (the partition's high watermark minus the
    consumer's position), as last refreshed by :func:`refresh_lag` (at each scrape)."""

    def __init__(self) -> None:
        self._lags: dict[str, dict[tuple[str, int], int]] = {}
        self._lock = threading.Lock()

    def set(self, service: str, lags: dict[tuple[str, int], int]) -> None:
        with self._lock:
            self._lags[service] = lags

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "hall_consumer_lag",
            "Records not yet consumed per partition: high watermark minus the consumer's position",
            labels=["service", "topic", "partition"],
        )
        with self._lock:
            for service, lags in sorted(self._lags.items()):
                for (topic, partition), lag in sorted(lags.items()):
                    family.add_metric([service, topic, str(partition)], lag)
        yield family


lag = Lag()
REGISTRY.register(lag)


async def refresh_lag(service: str, consumers: Iterable[AIOKafkaConsumer]) -> None:
    """Reads each assigned partition's lag from the consumers (no request to Kafka: the high watermark comes with
    every fetch; a partition not fetched yet is left out)."""
    lags: dict[tuple[str, int], int] = {}
    for consumer in consumers:
        with contextlib.suppress(Exception):  # a consumer stopping or rebalancing: its partitions are left out
            for tp in _assigned(consumer):
                highwater = consumer.highwater(tp)
                if highwater is None:
                    continue
                try:
                    position = await asyncio.wait_for(consumer.position(tp), 0.2)
                except (TimeoutError, KafkaError, AssertionError, RuntimeError):
                    continue
                lags[(tp.topic, tp.partition)] = max(0, highwater - position)
    lag.set(service, lags)


def _assigned(consumer: AIOKafkaConsumer) -> Iterator[TopicPartition]:
    yield from sorted(consumer.assignment())


def exposition() -> bytes:
    """The registry in Prometheus' text format."""
    return generate_latest(REGISTRY)


async def scrape(service: str, consumers: Callable[[], Iterable[AIOKafkaConsumer]]) -> bytes:
    await refresh_lag(service, consumers())
    return exposition()


# The gateway's metrics port (HALL_METRICS_PORT): by default its HTTP port + 100 (8100 for 8000, 9100 for the
# second gateway on 9000); 0 turns it off. Loopback unless HALL_METRICS_HOST says otherwise (docker-compose).
METRICS_PORT_STEP = 100


def metrics_address(settings: HallSettings) -> tuple[str, int]:
    port = settings.metrics_port if settings.metrics_port >= 0 else settings.http_port + METRICS_PORT_STEP
    return settings.metrics_host, port


def serve_on_port(settings: HallSettings) -> int | None:
    """Serves :data:`REGISTRY` on the metrics port in a thread of its own; the port, or None if off or taken
    (logged: the gateway runs on without metrics rather than not at all)."""
    host, port = metrics_address(settings)
    if port == 0:
        return None
    try:
        start_http_server(port, addr=host, registry=REGISTRY)
    except OSError as exc:
        log.warning("metrics: cannot listen on %s:%d (%s); /metrics is not served", host, port, exc)
        return None
    log.info("metrics: http://%s:%d/metrics", host, port)
    return port
