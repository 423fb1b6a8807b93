"""Evaluation's composition root: case facts from intake and routing, ratings from the gateway."""

from __future__ import annotations

from opentelemetry.sdk.trace import SpanProcessor

from services.evaluation.handlers import Evaluation
from services.evaluation.messages import RatingRecorded
from shared import topics
from shared.kafka import ServiceRuntime
from shared.settings import HallSettings
from shared.telemetry import tracer_provider

SERVICE = "evaluation"


def build(settings: HallSettings, spans: SpanProcessor | None = None) -> ServiceRuntime:
    runtime = ServiceRuntime(settings, SERVICE, tracer_provider(settings, SERVICE, spans))
    runtime.publications.declare(topics.EVALUATION_EVENTS, RatingRecorded)
    inputs = [topics.INTAKE_EVENTS, topics.ROUTING_EVENTS, topics.EVALUATION_COMMANDS]
    runtime.subscribe(inputs, Evaluation(settings).table())
    return runtime
