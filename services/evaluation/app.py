"""Evaluation's composition root: case facts from intake and routing, clocks from timing, commands from the gateway,
the county's rules from ``data/evaluation.toml`` and the rating links' key from ``HALL_SECRET``."""

from __future__ import annotations

from opentelemetry.sdk.trace import SpanProcessor

from services.evaluation.followup_handlers import FollowUps
from services.evaluation.handlers import CaseClocks
from services.evaluation.messages import (
    ClockRequested,
    ClockWithdrawn,
    FollowUpChanged,
    RatingOpened,
    RatingRecorded,
)
from services.evaluation.rating_handlers import Ratings
from services.evaluation.rebuild import rebuild
from services.evaluation.store import Store
from services.evaluation.tokens import LinkSigner
from shared import topics
from shared.clock import SYSTEM_CLOCK, Clock
from shared.kafka import ServiceRuntime
from shared.rating_policy import RatingPolicy, load_policy
from shared.rebuild import RebuildingRuntime
from shared.settings import HallSettings
from shared.telemetry import tracer_provider

SERVICE = "evaluation"


def build(
    settings: HallSettings,
    spans: SpanProcessor | None = None,
    *,
    clock: Clock | None = None,
    policy: RatingPolicy | None = None,
) -> ServiceRuntime:
    runtime = RebuildingRuntime(settings, SERVICE, tracer_provider(settings, SERVICE, spans))
    runtime.publications.declare(
        topics.EVALUATION_EVENTS, RatingOpened, RatingRecorded, FollowUpChanged, ClockRequested, ClockWithdrawn
    )
    rules = policy or load_policy()
    store = Store(settings)
    signer = LinkSigner(settings.secret, settings.secret_previous)
    commands = (Ratings(store, rules, signer, clock or SYSTEM_CLOCK).table(), FollowUps(store, rules).table())
    # Commands (ratings, follow-up acts) on a consumer of their own, so they never wait behind the events' backlog.
    runtime.subscribe([topics.EVALUATION_COMMANDS], *commands)
    clocks = CaseClocks(store, rules, settings.region_code)
    runtime.subscribe([topics.INTAKE_EVENTS, topics.ROUTING_EVENTS], clocks.case_table())
    # Timing's answers for evaluation's own clocks (评价期, 整改, 回访): few of timing's records, none in a hurry.
    runtime.subscribe([topics.TIMING_EVENTS], clocks.clock_table(), patient=True)
    # An empty Redis (no ``built`` key) is rebuilt from Kafka before anything is consumed.
    runtime.before_consuming.append(lambda: rebuild(settings, runtime.redis, runtime.publications, rules, force=False))
    return runtime
