"""The gateway's composition root: the Litestar app, its Kafka broker, read models, pages and command bus."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.logging import LoggingConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import Scope
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor
from redis import exceptions as redis_errors

from services.gateway import (
    auth,
    cases,
    catalogue,
    delivery,
    desk,
    exports,
    external,
    kiosk,
    openapi,
    ops,
    projects,
    ratings,
    sla,
    steps,
)
from services.gateway.auth.middleware import Admission
from services.gateway.bus import CommandBus
from services.gateway.cases.timeline import Timeline
from services.gateway.context import Gateway
from services.gateway.feature import Feature, provide_root
from services.gateway.limits import MAX_BODY_BYTES, BodyLimits, IdCheckAttempts, LimitStore
from services.gateway.metrics import http_metrics
from services.gateway.metrics import serve as serve_metrics
from services.gateway.rebuild import rebuild
from services.gateway.request_trace import RequestTrace
from services.gateway.security_headers import SecurityHeaders
from services.gateway.users import Directory, LoginRequired, User
from shared import topics
from shared.rebuild import RebuildingRuntime
from shared.service import health_report
from shared.settings import HallSettings
from shared.startup import wait_for_kafka
from shared.telemetry import records, tracer_provider

SERVICE = "gateway"
HERE = Path(__file__).resolve().parent
READ_TOPICS = (
    topics.INTAKE_EVENTS,
    topics.ROUTING_EVENTS,
    topics.TIMING_EVENTS,
    topics.EVALUATION_EVENTS,
    topics.EXTERNAL_EVENTS,
)
# Every area of the gateway, each a package with ``feature(settings) -> Feature``.
FEATURES: tuple[ModuleType, ...] = (
    *(auth, cases, steps, desk, kiosk, catalogue, delivery, sla, ratings, ops, external),
    projects,
    exports,
)


class Built:
    """The gateway's parts before they become an app."""

    def __init__(self, hall: Gateway, features: list[Feature]) -> None:
        self.hall = hall
        self.features = features


def build(settings: HallSettings, spans: SpanProcessor | None = None) -> Built:
    """The gateway's parts: its runtime (read models, commands it may publish), bus, users and features."""
    runtime = RebuildingRuntime(settings, SERVICE, tracer_provider(settings, SERVICE, spans))
    timeline = Timeline(settings)
    features: list[Feature] = [module.feature(settings) for module in FEATURES]
    tables = (timeline.table(), *(t for f in features for t in f.tables))
    runtime.subscribe(list(READ_TOPICS), *tables)
    for feature in features:
        for topic, commands in feature.publishes.items():
            runtime.publications.declare(topic, *commands)
    bus = CommandBus(settings, runtime.broker, runtime.publications)
    users = Directory.for_gateway(settings, lambda: runtime.redis)
    # Read models missing (no ``built`` key) are rebuilt from the events topics before anything is consumed; after
    # a loss (Redis wiped) every earlier session is refused, since its revocation may have been lost with it.
    runtime.before_consuming.append(
        lambda: rebuild(
            settings, runtime.redis, tables, runtime.publications, force=False, after_loss=users.refuse_earlier_sessions
        )
    )
    hall = Gateway(settings=settings, bus=bus, users=users, runtime=runtime, timeline=timeline)
    runtime.on_handled.append(hall.changes.handled)
    return Built(hall, features)


def _templates(users: Directory) -> TemplateConfig[JinjaTemplateEngine]:
    def current_user(request: Request[Any, Any, Any]) -> User | None:
        try:
            return users.signed_in(request)
        except Exception:  # noqa: BLE001 (a bad cookie on a page simply means nobody is signed in)
            return None

    def globals_(engine: JinjaTemplateEngine) -> None:
        engine.engine.globals["current_user"] = current_user

    return TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine, engine_callback=globals_)


def _login_redirect(_: Request[Any, Any, Any], exc: LoginRequired) -> Response[Any]:
    return exc.redirect()


# Redis unreachable or loading, past the client's bounded retry (shared/kafka.py redis_client): 503, never 500.
REDIS_UNAVAILABLE = (redis_errors.ConnectionError, redis_errors.TimeoutError)


def _redis_unavailable(retry_after_s: int) -> Callable[[Request[Any, Any, Any], Exception], Response[Any]]:
    def handle(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        loading = isinstance(exc, redis_errors.BusyLoadingError)
        reason = "数据存储正在加载" if loading else "数据存储暂不可用"
        body = {"status_code": 503, "detail": f"{reason}，请稍后重试（{type(exc).__name__}）"}
        return Response(body, status_code=503, headers={"Retry-After": str(retry_after_s)})

    return handle


http_log = logging.getLogger("hall.gateway.http")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def log_exception(exc: Exception, scope: Scope) -> None:
    """A refusal (4xx) is one INFO line with its reason; a failure (5xx) is an ERROR with traceback and trace id."""
    where = f"{scope.get('method', '')} {scope.get('path', '')}"
    if isinstance(exc, LoginRequired):
        http_log.info("302 %s: not signed in, sent to the login page", where)
        return
    if isinstance(exc, REDIS_UNAVAILABLE):
        http_log.warning("503 %s: Redis unavailable: %r", where, exc)
        return
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 503:  # Kafka or Redis away: one line each, not a traceback per retry
        http_log.warning(
            "503 %s: %s", where, " ".join(str(exc.detail if isinstance(exc, HTTPException) else exc).split())
        )
        return
    if status < 500:
        reason = " ".join(str(exc.detail if isinstance(exc, HTTPException) else exc).split())
        http_log.info("%s %s: %s", status, where, reason[:300])
        return
    context = trace.get_current_span().get_span_context()
    trace_id = f"{context.trace_id:032x}" if context.is_valid else "-"
    http_log.error("%s %s failed (trace %s)", status, where, trace_id, exc_info=exc)


def create_app(settings: HallSettings, spans: SpanProcessor | None = None, *, own_process: bool = False) -> Litestar:
    """The gateway; ``own_process`` (``python -m services.gateway``): it waits for a broker not ready yet at start,
    and exits with 75 to be restarted and rebuilt when its Redis is wiped under it (shared/watch_built.py)."""
    built = build(settings, spans)
    hall, runtime, bus = built.hall, built.hall.runtime, built.hall.bus
    limits = LimitStore(settings)
    runtime.built_watch.exit_on_missing = own_process
    traced = records(runtime.tracer_provider)

    async def start() -> None:
        hall.users.check_mode()  # HALL_DEMO=0 with a demo password left: refuse to start
        if own_process:
            await wait_for_kafka(settings, SERVICE)
        await runtime.start()
        await runtime.broker.start()
        await bus.start()
        if own_process:  # Prometheus text on a loopback port of its own (README "Metrics")
            stoppers.append(serve_metrics(runtime))

    stoppers: list[Callable[[], Awaitable[None]]] = []

    async def stop() -> None:
        for stopper in stoppers:
            await stopper()
        await runtime.drain()  # no new record; those being handled finish (or give up their turn) first
        await limits.close()
        await bus.stop()
        await runtime.stop()
        await runtime.broker.stop()

    runtime.add_health_check("replies", lambda: None if bus.listening else "not reading the replies topic")

    @get("/health", include_in_schema=False)
    async def health() -> Response[dict[str, object]]:
        body = await health_report(runtime, replies=bus.listening)
        return Response(body, status_code=200 if body["ready"] else 503)

    async def refuse_while_wiped(request: Request[Any, Any, Any]) -> Response[Any] | None:
        """Redis wiped under the gateway: 503 until it is restarted and rebuilt, never answers from an empty store.
        A command checks the ``built`` key itself; a read relies on the watch (every 2 s)."""
        if request.url.path == "/health":
            return None
        if runtime.built_watch.missing or (
            request.method not in SAFE_METHODS and not await runtime.built_watch.check()
        ):
            detail = "数据存储已被清空，正在从事件日志重建，请稍后重试"
            body = {"status_code": 503, "detail": detail}
            return Response(body, status_code=503, headers={"Retry-After": str(settings.retry_after_s)})
        return None

    dependencies: dict[str, Provide] = {"hall": provide_root(hall)}
    for feature in built.features:
        dependencies.update(feature.dependencies)
    static = create_static_files_router(path="/static", directories=[HERE / "static"], include_in_schema=False)
    return Litestar(
        route_handlers=[*(r for f in built.features for r in f.routes), health, static],
        dependencies=dependencies,
        template_config=_templates(hall.users),
        exception_handlers={
            LoginRequired: _login_redirect,
            **dict.fromkeys(REDIS_UNAVAILABLE, _redis_unavailable(settings.retry_after_s)),
        },
        # Security headers first (they go on every answer); then the caller's rate and session (revocation in Redis)
        # in one round trip, cookie-borne changes CSRF-checked; the body's size and depth; ID-check attempts.
        middleware=[
            # Without an exporter a request still gets a trace id (its log lines, the records it publishes).
            *([] if traced else [RequestTrace(runtime.tracer_provider.get_tracer("hall.gateway"))]),
            http_metrics,  # every answer's latency by route template and status
            SecurityHeaders(),
            Admission(hall.users, settings, limits, settings.api_rate_per_minute),  # rate and session: one round trip
            BodyLimits(),
            IdCheckAttempts(settings, limits),
        ],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=openapi.config(),
        # A 500 is answered without details; its traceback goes to the gateway's log (log_exception), a 4xx is
        # one line. The root logger is the process's own (shared/logs.py: a rotating file).
        logging_config=LoggingConfig(log_exceptions="never", configure_root_logger=False),
        after_exception=[log_exception],
        before_request=refuse_while_wiped,
        on_startup=[start],
        on_shutdown=[stop],
        # Requests are recorded as spans when spans go somewhere (about 0.5 ms of a request's ~4 ms otherwise spent for
        # nobody); without, RequestTrace only gives each one its trace id.
        plugins=[
            *([OpenTelemetryPlugin(OpenTelemetryConfig(tracer_provider=runtime.tracer_provider))] if traced else []),
            openapi.StrictBodies(),
        ],
        debug=False,
    )
