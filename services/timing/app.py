"""Timing's composition root: clocks follow the other services' events; a scheduler raises their alerts.

Timing-only settings (environment): ``HALL_HALLS_FILE`` (office hours and alert rules, data/halls.toml),
``HALL_TIMING_POLL_S`` (how often the due set is polled, 0.1 s).
"""

from __future__ import annotations

import os
from functools import partial

from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from services.timing.engine import Engine
from services.timing.handlers import Timing
from services.timing.heal import heal
from services.timing.messages import (
    CalendarLoaded,
    ClockAlerted,
    ClockExtended,
    ClockPaused,
    ClockRefused,
    ClockResumed,
    ClockStarted,
    ClockStopped,
    DeadlineRevised,
)
from services.timing.rebuild import rebuild_if_wiped
from services.timing.scheduler import Scheduler
from services.timing.store import Keys
from shared import topics
from shared.clock import SYSTEM_CLOCK, Clock
from shared.halls import load_halls
from shared.kafka import ServiceRuntime
from shared.settings import HallSettings
from shared.telemetry import tracer_provider

SERVICE = "timing"
INPUTS = [topics.INTAKE_EVENTS, topics.ROUTING_EVENTS, topics.EVALUATION_EVENTS]
PUBLISHES = (
    ClockStarted,
    ClockPaused,
    ClockResumed,
    ClockExtended,
    ClockAlerted,
    ClockStopped,
    ClockRefused,
    CalendarLoaded,
    DeadlineRevised,
)


class TimingRuntime(ServiceRuntime):
    """Timing's runtime: on start it rebuilds its Redis if it was wiped, then runs the alert scheduler."""

    def __init__(self, settings: HallSettings, tracer: TracerProvider, engine: Engine, clock: Clock) -> None:
        super().__init__(settings, SERVICE, tracer)
        self.engine = engine
        self.scheduler = Scheduler(self, engine, clock, poll_s=float(os.environ.get("HALL_TIMING_POLL_S") or 0.1))

    async def start(self) -> None:
        await super().start()
        await self.engine.refresh(self.redis, Keys(self.settings))
        await rebuild_if_wiped(self, self.engine)
        self.scheduler.start()

    async def stop(self) -> None:
        await self.scheduler.stop()
        await super().stop()


def build(settings: HallSettings, spans: SpanProcessor | None = None, clock: Clock | None = None) -> ServiceRuntime:
    engine = Engine(load_halls())
    runtime = TimingRuntime(settings, tracer_provider(settings, SERVICE, spans), engine, clock or SYSTEM_CLOCK)
    runtime.publications.declare(topics.TIMING_EVENTS, *PUBLISHES)

    table = Timing(settings, engine).table()
    runtime.subscribe(INPUTS, table)
    runtime.scheduler.before_first_tick.append(partial(heal, runtime, table))
    return runtime
