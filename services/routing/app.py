"""Routing's composition root: wires handlers to intake's, timing's and the other jurisdiction's events and to
routing's commands, and declares what routing publishes."""

from __future__ import annotations

from opentelemetry.sdk.trace import SpanProcessor

from services.routing.handlers import Routing
from services.routing.messages import (
    ApplicantNotified,
    CaseCompleted,
    CaseDelivered,
    CaseReturned,
    ChildCompleted,
    ClockRequested,
    ClockWithdrawn,
    ExtensionApproved,
    ExtensionRejected,
    ExtensionRequested,
    HandedOver,
    SpecialProcedureEnded,
    SpecialProcedureStarted,
    StepClaimed,
    StepDecided,
    StepEscalated,
    StepOpened,
    StepReassigned,
    StepResumed,
    StepsClosed,
)
from services.routing.rebuild import rebuild
from shared import topics
from shared.kafka import ServiceRuntime
from shared.rebuild import RebuildingRuntime
from shared.settings import HallSettings
from shared.telemetry import tracer_provider

SERVICE = "routing"
EVENTS = [topics.INTAKE_EVENTS, topics.EXTERNAL_EVENTS]
COMMANDS = [topics.ROUTING_COMMANDS]


def build(settings: HallSettings, spans: SpanProcessor | None = None) -> ServiceRuntime:
    runtime = RebuildingRuntime(settings, SERVICE, tracer_provider(settings, SERVICE, spans))
    runtime.publications.declare(
        topics.ROUTING_EVENTS,
        StepOpened,
        StepClaimed,
        StepReassigned,
        StepDecided,
        StepResumed,
        SpecialProcedureStarted,
        SpecialProcedureEnded,
        ExtensionRequested,
        ExtensionApproved,
        ExtensionRejected,
        StepEscalated,
        ChildCompleted,
        CaseCompleted,
        CaseDelivered,
        HandedOver,
        ApplicantNotified,
        CaseReturned,
        ClockRequested,
        ClockWithdrawn,
        StepsClosed,
    )
    runtime.publications.declare(topics.EXTERNAL_REQUESTS, HandedOver)
    routing = Routing(settings)
    # Commands on a consumer of their own, so a staff click never waits behind the events' backlog (as in intake).
    runtime.subscribe(COMMANDS, routing.command_table())
    runtime.subscribe(EVENTS, routing.event_table())
    # Timing's 预警 and 逾期 (escalation, 退件 of a lapsed limit): few of timing's records, none in a hurry.
    runtime.subscribe([topics.TIMING_EVENTS], routing.alert_table(), patient=True)
    # An empty Redis (no ``built`` key) is rebuilt from Kafka before anything is consumed.
    runtime.before_consuming.append(lambda: rebuild(settings, runtime.redis, runtime.publications, force=False))
    return runtime
