"""Timing's composition root: clocks follow intake's and routing's events."""

from __future__ import annotations

from opentelemetry.sdk.trace import SpanProcessor

from services.timing.calendar import WorkingCalendar
from services.timing.handlers import Timing
from services.timing.messages import ClockRefused, ClockStarted, ClockStopped
from shared import topics
from shared.kafka import ServiceRuntime
from shared.settings import HallSettings
from shared.telemetry import tracer_provider

SERVICE = "timing"


def build(settings: HallSettings, spans: SpanProcessor | None = None) -> ServiceRuntime:
    runtime = ServiceRuntime(settings, SERVICE, tracer_provider(settings, SERVICE, spans))
    runtime.publications.declare(topics.TIMING_EVENTS, ClockStarted, ClockStopped, ClockRefused)
    runtime.subscribe([topics.INTAKE_EVENTS, topics.ROUTING_EVENTS], Timing(settings, WorkingCalendar()).table())
    return runtime
