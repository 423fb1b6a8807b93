"""OpenTelemetry setup: one tracer provider per process, exporting OTLP when an endpoint is set.

Trace context crosses Kafka in the record headers (W3C ``traceparent``), injected and extracted by
FastStream's telemetry middleware, so one trace follows a case from the HTTP request through every service.
A process that sends its spans nowhere records none (the sampler is off): trace ids still cross the services,
and the hot path does not pay for spans nobody sees.
"""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, DEFAULT_ON

from shared.settings import HallSettings


def tracer_provider(settings: HallSettings, service: str, extra: SpanProcessor | None = None) -> TracerProvider:
    exporting = bool(settings.otlp_endpoint) or extra is not None
    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "service.namespace": settings.namespace}),
        sampler=DEFAULT_ON if exporting else ALWAYS_OFF,
    )
    if settings.otlp_endpoint:
        endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    if extra is not None:
        provider.add_span_processor(extra)
    return provider
