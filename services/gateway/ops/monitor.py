"""Each instance's health and figures for the operations page: the instance registry (shared/instances.py) says
which processes run and where; each one's ``/health`` and ``/metrics`` are scraped with a short timeout (an
instance that does not answer is 不可达, never an error of the page), and the result is kept ``CACHE_S`` seconds
so that many open pages cost one scrape.

From the Prometheus text (shared/metrics.py): consumer lag (the sum over the instance's partitions), throughput
(records handled per second over the last minute, from the ``hall_records_handled`` counter sampled at each
scrape), handler p99 (from the ``hall_handler_seconds`` histogram's buckets over the last minute, else since the
process started) and dead letters (``hall_dead_letters``, since the process started). Sparklines keep each
service's throughput and lag once per ``SAMPLE_S`` for ``SPARK_POINTS`` points (about ten minutes), in memory:
what this gateway process saw while someone watched, drawn by services/gateway/charts.py's sparkline.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from datetime import datetime, timedelta
from urllib.parse import quote

import httpx
import msgspec
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from services.gateway import charts
from shared.clock import SystemClock
from shared.instances import Instance, is_stale, registered
from shared.localtime import local
from shared.settings import HallSettings

SCRAPE_TIMEOUT_S = 2.0  # /health pings Kafka and Redis (each within 2 s): a loaded machine answers in ~1 s
CACHE_S = 3.0
WINDOW_S = 60.0  # throughput and p99 over the last minute
SAMPLE_S = 5.0
SPARK_POINTS = 120  # 10 minutes at one point per 5 s

REAL_TIME = SystemClock(timedelta(0))

UP, DEGRADED, UNREACHABLE, LOST = "正常", "异常", "不可达", "失联"


class InstanceView(msgspec.Struct, frozen=True, kw_only=True):
    service: str
    instance: str
    address: str
    state: str  # 正常 / 异常 (its /health reports problems) / 不可达 (no answer) / 失联 (not seen in the registry)
    problems: list[str]
    lag: int | None
    throughput: float | None  # records handled per second over the last minute (None: not known yet)
    p99_ms: float | None
    p99_window: str  # 近 1 分钟 / 启动以来 / ""
    dead_letters: int | None  # since the process started
    last_seen: str  # local time
    traces_url: str | None


class ServiceView(msgspec.Struct, frozen=True, kw_only=True):
    service: str
    instances: list[InstanceView]
    throughput: float | None
    lag: int | None
    throughput_series: list[float]
    lag_series: list[float]
    # The sparklines of the two series as inline SVG (services/gateway/charts.py), for the page and its pushes.
    throughput_chart: str
    lag_chart: str


class Overview(msgspec.Struct, frozen=True, kw_only=True):
    services: list[ServiceView]
    scraped_at: str


class Figures(msgspec.Struct, frozen=True, kw_only=True):
    """What one scrape of an instance's /metrics gives."""

    handled: float
    buckets: dict[float, float]  # le → cumulative count, every event type summed
    lag: int | None
    dead_letters: int


def parse(text: str, service: str) -> Figures:
    """The instance's figures from its Prometheus text (only samples labelled with its ``service``)."""
    handled = 0.0
    dead = 0.0
    buckets: dict[float, float] = {}
    lag: int | None = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("service", service) != service:
                continue
            if sample.name == "hall_records_handled_total" and sample.labels.get("outcome") == "handled":
                handled += sample.value
            elif sample.name == "hall_handler_seconds_bucket":
                le = float(sample.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + sample.value
            elif sample.name == "hall_dead_letters_total":
                dead += sample.value
            elif sample.name == "hall_consumer_lag":
                lag = (lag or 0) + int(sample.value)
    return Figures(handled=handled, buckets=buckets, lag=lag, dead_letters=int(dead))


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """The ``q`` quantile of a cumulative histogram as Prometheus' histogram_quantile estimates it (linear within
    the bucket; the highest finite bound for the +Inf bucket); None without observations."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for le in bounds:
        count = buckets[le]
        if count >= rank:
            if math.isinf(le):
                return lower
            if count == below:
                return le
            return lower + (le - lower) * (rank - below) / (count - below)
        lower, below = le, count
    return lower


class _Samples:
    """One instance's (monotonic time, handled, buckets) at each scrape over the last minute."""

    def __init__(self) -> None:
        self.points: deque[tuple[float, float, dict[float, float]]] = deque()

    def add(self, at: float, figures: Figures) -> tuple[float | None, float | None, str]:
        if self.points and figures.handled < self.points[-1][1]:
            self.points.clear()  # the process restarted: its counters began again
        self.points.append((at, figures.handled, figures.buckets))
        while len(self.points) > 1 and at - self.points[1][0] >= WINDOW_S:
            self.points.popleft()
        first_at, first_handled, first_buckets = self.points[0]
        rate = (figures.handled - first_handled) / (at - first_at) if at - first_at >= 1.0 else None
        recent = {le: count - first_buckets.get(le, 0.0) for le, count in figures.buckets.items()}
        p99 = quantile(0.99, recent) if at > first_at else None
        if p99 is not None:
            return rate, p99, "近 1 分钟"
        return rate, quantile(0.99, figures.buckets), "启动以来"


class Monitor:
    """The scrapes of one gateway process, cached ``CACHE_S``, with the sparklines' history."""

    def __init__(self, settings: HallSettings, traces_ui: str = "") -> None:
        self.settings = settings
        self.traces_ui = traces_ui.rstrip("/")  # shared/telemetry.py's TraceSettings.ui: Zipkin's base URL
        self._lock = asyncio.Lock()
        self._cached: tuple[float, Overview] | None = None
        self._samples: dict[str, _Samples] = {}
        self._series: dict[str, deque[tuple[float, float, float]]] = {}
        self.scrapes = 0  # how many times the instances were scraped (tests: the cache holds)

    def traces(self, service: str) -> str | None:
        """Zipkin's search for the service's traces of the last hour (``?serviceName=``; the UI searches only with an
        end, taken a minute ahead in real time: spans carry it, whatever the hall's clock offset); None without a
        traces UI, or with one that opens single traces only (a ``{trace_id}`` template)."""
        if not self.traces_ui or "{trace_id}" in self.traces_ui:
            return None
        end_ms = int((REAL_TIME.now() + timedelta(minutes=1)).timestamp() * 1000)
        return f"{self.traces_ui}/zipkin/?serviceName={quote(service)}&lookback=1h&endTs={end_ms}&limit=50"

    async def overview(self, redis: Redis, now: datetime) -> Overview:
        async with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < CACHE_S:
                return self._cached[1]
            found = await registered(redis, self.settings, now)
            self.scrapes += 1
            async with httpx.AsyncClient(timeout=SCRAPE_TIMEOUT_S) as client:
                views = await asyncio.gather(*(self._scrape(client, entry, now) for entry in found))
            overview = Overview(services=self._by_service(views), scraped_at=local(now))
            self._cached = (time.monotonic(), overview)
            return overview

    async def _scrape(self, client: httpx.AsyncClient, entry: Instance, now: datetime) -> InstanceView:
        seen = entry.seen_at()

        def view(state: str, problems: list[str], figures: Figures | None = None) -> InstanceView:
            rate = p99 = None
            window = ""
            if figures is not None:
                samples = self._samples.setdefault(entry.instance, _Samples())
                rate, p99, window = samples.add(time.monotonic(), figures)
            return InstanceView(
                service=entry.service,
                instance=entry.instance,
                address=entry.address,
                state=state,
                problems=problems,
                lag=None if figures is None else figures.lag,
                throughput=None if rate is None else round(rate, 2),
                p99_ms=None if p99 is None else round(p99 * 1000, 1),
                p99_window=window if p99 is not None else "",
                dead_letters=None if figures is None else figures.dead_letters,
                last_seen=local(seen) if seen else "",
                traces_url=self.traces(entry.service),
            )

        try:
            health = await client.get(f"http://{entry.address}/health")
            body = health.json()
        except (httpx.HTTPError, ValueError, OSError) as exc:
            return view(LOST if is_stale(entry, now) else UNREACHABLE, [f"/health 无应答（{type(exc).__name__}）"])
        problems = [str(p) for p in body.get("problems", [])] if isinstance(body, dict) else []
        state = UP if health.status_code == 200 and not problems else DEGRADED
        if not entry.metrics:
            return view(state, problems)
        try:
            scraped = await client.get(f"http://{entry.metrics}/metrics")
            scraped.raise_for_status()
            figures = parse(scraped.text, entry.service)
        except (httpx.HTTPError, ValueError, OSError) as exc:
            return view(state, [*problems, f"/metrics 无应答（{type(exc).__name__}）"])
        return view(state, problems, figures)

    def _by_service(self, views: list[InstanceView]) -> list[ServiceView]:
        grouped: dict[str, list[InstanceView]] = {}
        for view in views:
            grouped.setdefault(view.service, []).append(view)
        at = time.monotonic()
        out = []
        for service, instances in grouped.items():
            rates = [v.throughput for v in instances if v.throughput is not None]
            lags = [v.lag for v in instances if v.lag is not None]
            rate = round(sum(rates), 2) if rates else None
            lag = sum(lags) if lags else None
            series = self._series.setdefault(service, deque(maxlen=SPARK_POINTS))
            if rate is not None or lag is not None:
                point = (at, rate or 0.0, float(lag or 0))
                if series and at - series[-1][0] < SAMPLE_S:  # one point per SAMPLE_S: the latest figures
                    series[-1] = (series[-1][0], point[1], point[2])
                else:
                    series.append(point)
            out.append(
                ServiceView(
                    service=service,
                    instances=instances,
                    throughput=rate,
                    lag=lag,
                    throughput_series=[p[1] for p in series],
                    lag_series=[p[2] for p in series],
                    throughput_chart=charts.sparkline([p[1] for p in series]),
                    lag_chart=charts.sparkline([p[2] for p in series]),
                )
            )
        return out
