"""The gateway's composition root: the Litestar app, its Kafka broker, read models and command bus."""

from __future__ import annotations

from litestar import Litestar, Response, get
from litestar.di import Provide
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from opentelemetry.sdk.trace import SpanProcessor
from redis.exceptions import RedisError

from services.gateway.bus import CommandBus
from services.gateway.cases.api import CaseController
from services.gateway.cases.schemas import RecordDelivery, SubmitApplication, SubmitRating
from services.gateway.cases.timeline import Timeline
from services.gateway.context import Gateway
from services.gateway.steps.api import StepController
from services.gateway.steps.inbox import Inbox
from services.gateway.steps.schemas import DecideStep
from services.gateway.users import Directory
from shared import topics
from shared.kafka import ServiceRuntime
from shared.settings import HallSettings
from shared.telemetry import tracer_provider

SERVICE = "gateway"
READ_TOPICS = (topics.INTAKE_EVENTS, topics.ROUTING_EVENTS, topics.TIMING_EVENTS, topics.EVALUATION_EVENTS)


def build(settings: HallSettings, spans: SpanProcessor | None = None) -> Gateway:
    """The gateway's parts: its runtime (read models, commands it may publish), bus and users."""
    runtime = ServiceRuntime(settings, SERVICE, tracer_provider(settings, SERVICE, spans))
    timeline, inbox = Timeline(settings), Inbox(settings)
    runtime.subscribe(list(READ_TOPICS), timeline.table(), inbox.table())
    runtime.publications.declare(topics.INTAKE_COMMANDS, SubmitApplication)
    runtime.publications.declare(topics.ROUTING_COMMANDS, DecideStep, RecordDelivery)
    runtime.publications.declare(topics.EVALUATION_COMMANDS, SubmitRating)
    bus = CommandBus(settings, runtime.broker, runtime.publications)
    return Gateway(settings=settings, bus=bus, users=Directory(), runtime=runtime, timeline=timeline, inbox=inbox)


def create_app(settings: HallSettings, spans: SpanProcessor | None = None) -> Litestar:
    hall = build(settings, spans)
    runtime, bus = hall.runtime, hall.bus

    async def start() -> None:
        await runtime.start()
        await runtime.broker.start()
        await bus.start()

    async def stop() -> None:
        await bus.stop()
        await runtime.stop()
        await runtime.broker.stop()

    @get("/health", include_in_schema=False)
    async def health() -> Response[dict[str, object]]:
        kafka = await runtime.broker.ping(timeout=2.0)
        try:
            redis = bool(await runtime.redis.ping())
        except (RedisError, RuntimeError):
            redis = False
        replies = bus.listening
        body: dict[str, object] = {"service": SERVICE, "kafka": kafka, "redis": redis, "replies": replies}
        return Response(body, status_code=200 if kafka and redis and replies else 503)

    return Litestar(
        route_handlers=[CaseController, StepController, health],
        dependencies={"hall": Provide(lambda: hall, sync_to_thread=False)},
        on_startup=[start],
        on_shutdown=[stop],
        plugins=[OpenTelemetryPlugin(OpenTelemetryConfig(tracer_provider=runtime.tracer_provider))],
        debug=False,
    )
