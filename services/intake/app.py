"""Intake's composition root: wires the catalogue, points, credit list, handlers and Kafka; nothing connects on
import."""

from __future__ import annotations

from opentelemetry.sdk.trace import SpanProcessor

from services.intake.credit import CreditList
from services.intake.handlers import Intake
from services.intake.messages import (
    ApplicationPreSubmitted,
    CaseAccepted,
    CaseRefused,
    CaseSuspended,
    ClockRequested,
    ClockWithdrawn,
    MaterialsSupplemented,
    OneTimeNoticeIssued,
    PreReviewed,
    ProjectRegistered,
    ProjectStageCompleted,
)
from services.intake.rebuild import rebuild
from shared import topics
from shared.catalogue import load_catalogue
from shared.kafka import ServiceRuntime
from shared.pii import for_settings
from shared.points import load_points
from shared.rebuild import RebuildingRuntime
from shared.settings import HallSettings
from shared.telemetry import tracer_provider

SERVICE = "intake"
# What intake publishes on intake.events (the unit tests' fake Txn checks the same declarations).
PUBLISHES = (
    CaseAccepted,
    CaseRefused,
    ClockRequested,
    ClockWithdrawn,
    MaterialsSupplemented,
    CaseSuspended,
    OneTimeNoticeIssued,
    ApplicationPreSubmitted,
    PreReviewed,
    ProjectRegistered,
    ProjectStageCompleted,
)


def build(settings: HallSettings, spans: SpanProcessor | None = None) -> ServiceRuntime:
    runtime = RebuildingRuntime(settings, SERVICE, tracer_provider(settings, SERVICE, spans))
    runtime.publications.declare(topics.INTAKE_EVENTS, *PUBLISHES)
    intake = Intake(settings, load_catalogue(), load_points(), CreditList(key=for_settings(settings).id_hash))
    # An empty Redis (no ``built`` key) is rebuilt from intake.events before anything is consumed.
    runtime.before_consuming.append(lambda: rebuild(settings, runtime.redis, intake.catalogue, intake.pii, force=False))
    runtime.subscribe([topics.INTAKE_COMMANDS], intake.table())
    # 补齐 deadlines come back from timing; a consumer of their own, so commands never wait behind them. Patient
    # consumers: intake reacts to few of these topics' records (README "Architecture").
    runtime.subscribe([topics.TIMING_EVENTS], intake.timing_table(), patient=True)
    # 工程建设: a project's stage results come from routing's 办结 (services/intake/projects.py).
    runtime.subscribe([topics.ROUTING_EVENTS], intake.routing_table(), patient=True)
    return runtime
