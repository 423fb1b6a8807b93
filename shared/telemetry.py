"""OpenTelemetry setup: one tracer provider per process, exporting OTLP when an endpoint is set.

Trace context crosses Kafka in the record headers (W3C ``traceparent``), injected and extracted by
FastStream's telemetry middleware, so one trace follows a case from the HTTP request through every service.
"""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from shared.settings import HallSettings


def tracer_provider(settings: HallSettings, service: str, extra: SpanProcessor | None = None) -> TracerProvider:
    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "service.namespace": settings.namespace})
    )
    if settings.otlp_endpoint:
        endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    if extra is not None:
        provider.add_span_processor(extra)
    return provider
