"""OpenTelemetry setup: one tracer provider per process, its exporter chosen by the standard OpenTelemetry settings.

Trace context crosses Kafka in the record headers (W3C ``traceparent``), injected by FastStream's telemetry
middleware on every publish and extracted by the consume path (:func:`handler_span`), so one trace follows a case
from the HTTP request through every service.

Where spans go (:func:`trace_settings`):

- ``OTEL_TRACES_EXPORTER=zipkin`` to ``OTEL_EXPORTER_ZIPKIN_ENDPOINT`` (default ``http://localhost:9411/api/v2/spans``;
  ``./hall up`` sets both for the Zipkin it starts unless they are set already);
- ``OTEL_TRACES_EXPORTER=otlp`` to ``OTEL_EXPORTER_OTLP_ENDPOINT`` (default ``http://localhost:4318``; docker-compose's
  Jaeger);
- ``OTEL_TRACES_EXPORTER=none``, or nothing set: nowhere. Without the variable, an endpoint alone picks its
  exporter (Zipkin's first).

A process that sends its spans nowhere records none (the sampler is off; the gateway then runs no HTTP
instrumentation, only gives each request its trace id: services/gateway/request_trace.py): trace ids still cross the
services, and
the hot path does not pay for spans nobody sees. One that exports keeps a share of the traces
(``OTEL_TRACES_SAMPLER_ARG``, 0 to 1, default 1: all), decided once at the root and followed by every span under it
in every service (parent-based), so a trace is kept or dropped whole; a span that ends in error is exported even
from a dropped trace (:class:`KeepErrors` records every span, :class:`SampledOrFailed` exports the failed ones).

Each handled record has one span (``{topic} process``) with ``hall.service``, ``hall.event_type``, ``hall.case_no``
(when the event or what it published names it), ``hall.case_id`` and ``hall.outcome``: handled, duplicate (done
before: its effects re-published), parked (to be tried again), dead-lettered, refused (a command answered with a
refusal) or ignored (an event this service does not react to).
Zipkin finds a case's traces by ``annotationQuery=hall.case_no=<办件编号>``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import msgspec
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind, StatusCode, Tracer, format_trace_id
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

from shared.clock import SystemClock
from shared.settings import HallSettings

REAL_TIME = SystemClock(timedelta(0))  # span time stamps are the real time, not the hall's (HALL_CLOCK_OFFSET_S)
ZIPKIN, OTLP, NONE = "zipkin", "otlp", "none"
ZIPKIN_DEFAULT = "http://localhost:9411/api/v2/spans"
OTLP_DEFAULT = "http://localhost:4318"

# Span attributes of a handled record.
SERVICE, EVENT_TYPE, CASE_NO, OUTCOME = "hall.service", "hall.event_type", "hall.case_no", "hall.outcome"
CASE_ID = "hall.case_id"
HANDLED, DUPLICATE, PARKED, DEAD_LETTERED, REFUSED, IGNORED = (
    "handled",
    "duplicate",
    "parked",
    "dead-lettered",
    "refused",
    "ignored",
)


class TraceSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Where a process's spans go, what share of traces it keeps, and where people open a trace."""

    exporter: str = NONE  # zipkin | otlp | none
    endpoint: str = ""  # the collector's URL (Zipkin: the full /api/v2/spans URL; OTLP: the base URL)
    ratio: float = 1.0  # the share of traces kept (errors always are)
    ui: str = ""  # the traces UI's base URL (Zipkin: http://host:9411), or a template with {trace_id}; "" for none

    def link(self, trace_id: str) -> str:
        """The page of one trace in the traces UI, or "" when there is no UI or no trace id."""
        if not self.ui or not trace_id:
            return ""
        if "{trace_id}" in self.ui:
            return self.ui.replace("{trace_id}", trace_id)
        return f"{self.ui}/zipkin/traces/{trace_id}"

    def case_search(self, case_no: str, now: datetime | None = None) -> str:
        """Zipkin's search for every trace of one case (by the ``hall.case_no`` tag) over the 7 days before ``now``
        (the real time by default: spans carry it, whatever the hall's clock offset) and the day after, or ""."""
        if not self.ui or not case_no or "{trace_id}" in self.ui:
            return ""
        end = (now or REAL_TIME.now()) + timedelta(days=1)  # the UI runs its search only with an end
        end_ms = int(end.timestamp() * 1000)
        return f"{self.ui}/zipkin/?annotationQuery={CASE_NO}%3D{case_no}&lookback=7d&endTs={end_ms}&limit=50"


def trace_settings(settings: HallSettings, environ: Mapping[str, str] | None = None) -> TraceSettings:
    """The settings from the environment; a bad value raises ``ValueError`` naming the variable."""
    env = os.environ if environ is None else environ
    zipkin = env.get("OTEL_EXPORTER_ZIPKIN_ENDPOINT", "").strip()
    otlp = settings.otlp_endpoint.strip()
    chosen = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not chosen:
        chosen = ZIPKIN if zipkin else OTLP if otlp else NONE
    if chosen not in (ZIPKIN, OTLP, NONE):
        raise ValueError(f"OTEL_TRACES_EXPORTER={chosen!r}: one of zipkin, otlp, none")
    endpoint = {ZIPKIN: zipkin or ZIPKIN_DEFAULT, OTLP: otlp or OTLP_DEFAULT, NONE: ""}[chosen]
    raw_ratio = env.get("OTEL_TRACES_SAMPLER_ARG", "").strip() or "1"
    try:
        ratio = float(raw_ratio)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"OTEL_TRACES_SAMPLER_ARG={raw_ratio!r}: a share of traces from 0 to 1")
    ui = env.get("HALL_TRACES_URL", "").strip().rstrip("/").removesuffix("/zipkin")
    if not ui and chosen == ZIPKIN:
        parts = urlsplit(endpoint)
        ui = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return TraceSettings(exporter=chosen, endpoint=endpoint, ratio=ratio, ui=ui)


def exporter_for(traces: TraceSettings) -> SpanExporter | None:
    if traces.exporter == ZIPKIN:
        return ZipkinExporter(endpoint=traces.endpoint)
    if traces.exporter == OTLP:
        return OTLPSpanExporter(endpoint=traces.endpoint.rstrip("/") + "/v1/traces")
    return None


class KeepErrors(Sampler):
    """Parent-based ratio sampling that records the spans of dropped traces too (not exported), so one that ends in
    error can still be exported: the root decides for the whole trace, every service follows its parent."""

    def __init__(self, ratio: float) -> None:
        self.ratio = ratio
        self._decide = ParentBased(TraceIdRatioBased(ratio))

    def should_sample(  # noqa: PLR0917 (the Sampler interface)
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        decided = self._decide.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)
        if decided.decision is Decision.DROP:
            return SamplingResult(Decision.RECORD_ONLY, attributes, decided.trace_state)
        return decided

    def get_description(self) -> str:
        return f"KeepErrors{{ParentBased{{TraceIdRatioBased{{{self.ratio}}}}}}}"


class SampledOrFailed(BatchSpanProcessor):
    """Exports the spans of sampled traces, and the spans that ended in error whatever their trace's fate."""

    def on_end(self, span: ReadableSpan) -> None:
        sampled = span.context is not None and span.context.trace_flags.sampled
        if sampled or span.status.status_code is StatusCode.ERROR:
            self._batch_processor.emit(span)


def tracer_provider(
    settings: HallSettings,
    service: str,
    extra: SpanProcessor | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> TracerProvider:
    """The process's tracer provider; ``extra`` (tests) receives every span, sampled at the same ratio."""
    traces = trace_settings(settings, environ)
    exporter = exporter_for(traces)
    exporting = exporter is not None or extra is not None
    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "service.namespace": settings.namespace}),
        sampler=KeepErrors(traces.ratio) if exporting else ALWAYS_OFF,
    )
    if exporter is not None:
        provider.add_span_processor(SampledOrFailed(exporter))
    if extra is not None:
        provider.add_span_processor(extra)
    return provider


def records(provider: TracerProvider) -> bool:
    """Whether the provider records spans at all (it sends them somewhere): otherwise an HTTP server need not
    trace its requests, since nobody would see them."""
    return provider.sampler is not ALWAYS_OFF


# ---------------------------------------------------------------- the span of one handled record


class Handling:
    """What the consume path learns about the record it handles, for its span and for the read models."""

    __slots__ = ("outcome", "refused", "trace_id")

    def __init__(self, trace_id: str) -> None:
        self.trace_id = trace_id  # the trace the record came with (its traceparent header), "" for none
        self.outcome = ""
        self.refused = False


_HANDLING: ContextVar[Handling | None] = ContextVar("hall_handling", default=None)
_PROPAGATOR = TraceContextTextMapPropagator()


@contextmanager
def handler_span(tracer: Tracer, service: str, record: Any) -> Iterator[Handling]:
    """The consumer span of one Kafka record (aiokafka's ``ConsumerRecord``), a child of the trace its
    ``traceparent`` header names; the handlers called inside note the case, the event and the outcome on it."""
    headers = {key: value.decode("latin-1") for key, value in record.headers or () if value is not None}
    parent = _PROPAGATOR.extract(headers)
    incoming = trace.get_current_span(parent).get_span_context()
    handling = Handling(format_trace_id(incoming.trace_id) if incoming.is_valid else "")
    token = _HANDLING.set(handling)
    try:
        with trace.use_span(
            tracer.start_span(
                f"{record.topic} process",
                context=parent,
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": record.topic,
                    "messaging.kafka.destination.partition": record.partition,
                    "messaging.kafka.message.offset": record.offset,
                    SERVICE: service,
                },
            ),
            end_on_exit=True,
        ) as span:
            try:
                yield handling
            finally:
                outcome = handling.outcome or IGNORED
                span.set_attribute(OUTCOME, REFUSED if outcome == HANDLED and handling.refused else outcome)
    finally:
        _HANDLING.reset(token)


def incoming_trace_id() -> str:
    """The trace id (32 hex digits) of the record being handled, from its ``traceparent`` header; "" for none."""
    handling = _HANDLING.get()
    return handling.trace_id if handling is not None else ""


def note_event(event_type: str, case_no: str = "", case_id: str = "") -> None:
    """Name the event and its case (number, and id: a command may name its case by id alone) on the span of the
    record being handled."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute(EVENT_TYPE, event_type)
        if case_no:
            span.set_attribute(CASE_NO, case_no)
        if case_id:
            span.set_attribute(CASE_ID, case_id)


def note_case(case_no: str) -> None:
    """The case a command created (intake's number for a submission), if the span has none yet."""
    span = trace.get_current_span()
    if case_no and span.is_recording() and CASE_NO not in (getattr(span, "attributes", None) or {}):
        span.set_attribute(CASE_NO, case_no)


def note_outcome(outcome: str) -> None:
    """What became of the record being handled (the last word counts)."""
    handling = _HANDLING.get()
    if handling is not None:
        handling.outcome = outcome


def note_dead_letter(reason: str) -> None:
    """The record being handled goes to the dead letters: its outcome, and an error on its span (always exported)."""
    note_outcome(DEAD_LETTERED)
    span = trace.get_current_span()
    if span.is_recording():
        span.set_status(StatusCode.ERROR, f"dead-lettered: {reason[:300]}")


def note_refused() -> None:
    """The command being handled is answered with a refusal (its outcome reads ``refused`` once handled)."""
    handling = _HANDLING.get()
    if handling is not None:
        handling.refused = True


def note_failure(exc: BaseException, *, waiting: bool) -> None:
    """A failed attempt on the current span: an error (exported whatever the sampling) unless the record is only
    waiting for another (``NotYet``), which is normal."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    if waiting:
        span.add_event("waiting", {"reason": str(exc)[:300]})
        return
    span.record_exception(exc)
    span.set_status(StatusCode.ERROR, f"{type(exc).__name__}: {str(exc)[:300]}")


def trace_id_in(headers: Sequence[tuple[str, bytes]] | None) -> str:
    """The trace id a record's ``traceparent`` header names (``00-<trace id>-<span id>-<flags>``), or ""."""
    for key, value in headers or ():
        if key == "traceparent" and value is not None and len(value) >= 35:
            return value[3:35].decode("latin-1")
    return ""


@contextmanager
def replaying(trace_id: str) -> Iterator[None]:
    """A rebuild replaying a record: the read models it writes keep the record's trace id, as when consumed."""
    token = _HANDLING.set(Handling(trace_id))
    try:
        yield
    finally:
        _HANDLING.reset(token)
