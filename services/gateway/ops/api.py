"""运行监控: the operators' page ``/ops`` and its API.

- Each service's instances (shared/instances.py's registry) with health, consumer lag, throughput, handler p99
  and dead letters, scraped from their ``/health`` and ``/metrics`` (monitor.py), and a link to their traces when
  ``HALL_TRACES_URL`` is set.
- Dead letters, newest first, paged, with 重新投递 (deadletters.py: safe to repeat).
- Records that keep failing for a transient reason past ``HALL_RETRY_ALERT_S`` (Kafka or Redis away for that
  long, a record waiting for one that never comes), as each service reports them in ``<ns>:ops:stuck``; a report
  is removed by the service when its record finally goes through, so the list holds what is stuck now and does
  not grow with history; it is still cut at ``SHOWN`` rows, longest failing first, with the total.

The page updates over Server-Sent Events (``GET /api/ops/stream``) every ``EVERY_S`` seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

import msgspec
from aiokafka.errors import KafkaError
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, PathParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage, Template

from services.gateway import access
from services.gateway.access import Action
from services.gateway.context import HallDep, Req
from services.gateway.openapi import documented
from services.gateway.ops.deadletters import LETTER_ID, LetterPage, Replayed, UnknownLetter
from services.gateway.ops.deadletters import DeadLetters as DeadLetterBook
from services.gateway.ops.monitor import Monitor, Overview
from services.gateway.paging import DEFAULT_LIMIT, PAGED, PAGED_REASONS, CursorParam, LimitParam, checked_limit
from shared.clock import SYSTEM_CLOCK
from shared.kafka import StuckRecord, stuck_records
from shared.localtime import local
from shared.settings import HallSettings
from shared.telemetry import trace_settings

SHOWN = 200
EVERY_S = 5.0
STREAM_S = 60.0  # a stream ends after a minute; the browser reconnects by itself (EventSource)
LETTERS_SHOWN = 20

MonitorDep = NamedDependency[Monitor]
LettersDep = NamedDependency[DeadLetterBook]


def traces_ui(settings: HallSettings) -> str:
    """The traces UI as the case pages link to it (shared/telemetry.py: ``HALL_TRACES_URL``, else derived from the
    Zipkin endpoint the process exports to); "" for none, and for settings the telemetry refuses (it says why)."""
    try:
        return trace_settings(settings).ui
    except ValueError:
        return ""


class StuckView(msgspec.Struct, frozen=True, kw_only=True):
    """Records stuck now, longest failing first (at most ``SHOWN``), and how many there are."""

    total: int
    records: list[StuckRecord]


class Live(msgspec.Struct, frozen=True, kw_only=True):
    """One event of the stream: the instances, and how many stuck records and dead letters there are."""

    overview: Overview
    stuck_total: int
    dead_letters_total: int
    dead_letters_waiting: int


STREAMED = ResponseSpec(
    data_container=str,
    media_type="text/event-stream",
    description="Server-Sent Events：事件名 ops，data 为 {overview（同 GET /api/ops/instances）, stuck_total, "
    "dead_letters_total, dead_letters_waiting}",
    generate_examples=False,
)


def duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} 小时"
    if seconds >= 60:
        return f"{seconds / 60:.0f} 分钟"
    return f"{seconds:.0f} 秒"


def reported(at: str) -> str:
    try:
        return local(datetime.fromisoformat(at))
    except ValueError:
        return at


async def view(hall: HallDep) -> StuckView:
    found = await stuck_records(hall.redis, hall.settings)
    return StuckView(total=len(found), records=found[:SHOWN])


async def live(hall: HallDep, monitor: Monitor, letters: DeadLetterBook) -> Live:
    overview = await monitor.overview(hall.redis, SYSTEM_CLOCK.now())
    total, waiting = await letters.totals(hall.redis)
    stuck = await hall.redis.hlen(hall.settings.key("ops", "stuck"))
    return Live(overview=overview, stuck_total=stuck, dead_letters_total=total, dead_letters_waiting=waiting)


LetterId = Annotated[str, PathParameter(description="死信编号（死信主题中的 分区-位置，如 0-17）")]


class OpsController(Controller):
    path = "/api/ops"
    tags = ("运行监控",)

    @get("/stuck", summary="运行监控：持续重试超过告警时限的消息", **documented())
    async def stuck(self, request: Req, hall: HallDep) -> StuckView:
        access.caller(hall, request, Action.OPS)
        return await view(hall)

    @get(
        "/instances",
        summary="运行监控：各服务实例的健康、消费积压、吞吐、处理耗时 p99 与死信数",
        description="实例来自各进程每 5 秒写入的登记（<ns>:ops:instances），逐个读取其 /health 与 /metrics（超时 1 秒，"
        "无应答为 不可达）；结果缓存 3 秒。",
        **documented(),
    )
    async def instances(self, request: Req, hall: HallDep, ops_monitor: MonitorDep) -> Overview:
        access.caller(hall, request, Action.OPS)
        return await ops_monitor.overview(hall.redis, SYSTEM_CLOCK.now())

    @get(
        "/deadletters",
        summary="运行监控：死信（最新的在前，分页）",
        **documented(*PAGED, reasons=PAGED_REASONS),
    )
    async def dead_letters(
        self,
        request: Req,
        hall: HallDep,
        dead_letters: LettersDep,
        limit: LimitParam = DEFAULT_LIMIT,
        cursor: CursorParam = "",
    ) -> LetterPage:
        access.caller(hall, request, Action.OPS)
        return await dead_letters.page(hall.redis, checked_limit(limit), cursor)

    @post(
        "/deadletters/{letter_id:str}/replay",
        summary="运行监控：重新投递死信（原消息原样发回原主题；重复操作不会再次投递）",
        description="首次：published=true；已重新投递过的：published=false，不再发布。各服务按事件编号只处理一次。",
        status_code=200,
        **documented(404, 422, 503, reasons={404: "死信不存在", 422: "死信编号无效"}),
    )
    async def replay(
        self, request: Req, hall: HallDep, dead_letters: LettersDep, letter_id: FromPath[LetterId]
    ) -> Replayed:
        user = access.caller(hall, request, Action.OPS_REPLAY)
        if not LETTER_ID.match(letter_id):
            # Any string fits the schema; one no answer gave is well-formed but means nothing: 422, as a bad cursor.
            raise HTTPException(status_code=422, detail=f"死信编号无效（应为 分区-位置，如 0-17）：{letter_id[:40]}")
        try:
            return await dead_letters.replay(hall.redis, letter_id, f"{user.name}（{user.id}）", SYSTEM_CLOCK.now())
        except UnknownLetter:
            raise HTTPException(status_code=404, detail=f"死信不存在：{letter_id[:40]}") from None
        except (TimeoutError, OSError, KafkaError) as exc:
            raise HTTPException(
                status_code=503,
                detail=f"Kafka 暂不可用，未能重新投递，请稍后重试（{type(exc).__name__}）",
                headers={"Retry-After": str(hall.settings.retry_after_s)},
            ) from None

    @get(
        "/stream",
        summary="运行监控实时推送（Server-Sent Events，事件名 ops）",
        description="每 5 秒一条；一分钟后结束，浏览器自动重连。",
        **documented(own={200: STREAMED}),
    )
    async def stream(
        self, request: Req, hall: HallDep, ops_monitor: MonitorDep, dead_letters: LettersDep
    ) -> ServerSentEvent:
        access.caller(hall, request, Action.OPS)

        async def updates() -> AsyncIterator[ServerSentEventMessage]:
            ends = time.monotonic() + STREAM_S
            while time.monotonic() < ends:
                found = await live(hall, ops_monitor, dead_letters)
                yield ServerSentEventMessage(data=msgspec.json.encode(found).decode(), event="ops")
                await asyncio.sleep(EVERY_S)

        return ServerSentEvent(updates(), retry_duration=1000)


class OpsPages(Controller):
    path = "/ops"
    include_in_schema = False

    @get("/")
    async def page(self, request: Req, hall: HallDep, ops_monitor: MonitorDep, dead_letters: LettersDep) -> Template:
        user = hall.users.page_user(request, *access.roles(Action.OPS))
        overview = await ops_monitor.overview(hall.redis, SYSTEM_CLOCK.now())
        letters = await dead_letters.page(hall.redis, LETTERS_SHOWN, "")
        context = {
            "user": user,
            "view": await view(hall),
            "overview": overview,
            "letters": letters,
            "may_replay": access.may(user, Action.OPS_REPLAY),
            "duration": duration,
            "reported": reported,
            "every_s": int(EVERY_S),
        }
        return Template(template_name="ops/stuck.html", context=context)
