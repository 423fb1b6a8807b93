"""Routing's composition root: wires handlers to intake's events and routing's commands."""

from __future__ import annotations

from opentelemetry.sdk.trace import SpanProcessor

from services.routing.handlers import Routing
from services.routing.messages import CaseCompleted, CaseDelivered, StepDecided, StepOpened
from shared import topics
from shared.kafka import ServiceRuntime
from shared.settings import HallSettings
from shared.telemetry import tracer_provider

SERVICE = "routing"


def build(settings: HallSettings, spans: SpanProcessor | None = None) -> ServiceRuntime:
    runtime = ServiceRuntime(settings, SERVICE, tracer_provider(settings, SERVICE, spans))
    runtime.publications.declare(topics.ROUTING_EVENTS, StepOpened, StepDecided, CaseCompleted, CaseDelivered)
    routing = Routing(settings)
    runtime.subscribe([topics.INTAKE_EVENTS, topics.ROUTING_COMMANDS], routing.table())
    return runtime
