"""Intake's composition root: wires the catalogue, handlers and Kafka; nothing connects on import."""

from __future__ import annotations

from opentelemetry.sdk.trace import SpanProcessor

from services.intake.catalogue import load_catalogue
from services.intake.handlers import Intake
from services.intake.messages import CaseAccepted
from shared import topics
from shared.kafka import ServiceRuntime
from shared.settings import HallSettings
from shared.telemetry import tracer_provider

SERVICE = "intake"


def build(settings: HallSettings, spans: SpanProcessor | None = None) -> ServiceRuntime:
    runtime = ServiceRuntime(settings, SERVICE, tracer_provider(settings, SERVICE, spans))
    runtime.publications.declare(topics.INTAKE_EVENTS, CaseAccepted)
    runtime.subscribe([topics.INTAKE_COMMANDS], Intake(settings, load_catalogue()).table())
    return runtime
