"""时限监控: the SLA board's API (JSON and a live Server-Sent Events stream) and its pages, for operators and
department supervisors (a supervisor sees their own department)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, PathParameter, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage, Template

from services.gateway import access, charts
from services.gateway.access import Action
from services.gateway.context import HallDep, Req
from services.gateway.desk.dossier import Dossiers
from services.gateway.exports.sheets import MOST_ROWS
from services.gateway.openapi import documented
from services.gateway.paging import MOST_LIMIT, PAGED, PAGED_REASONS, CursorParam, checked_limit
from services.gateway.projects.api import ProjectsDep, days
from services.gateway.provisional import years_text
from services.gateway.sla.board import (
    BADGES,
    DEFAULT_LIMIT,
    LISTS,
    PURPOSES,
    BadCursor,
    BoardView,
    CaseClocks,
    ClockPage,
    Day,
    SlaBoard,
)
from services.gateway.users import Role, User
from shared.localtime import LOCAL, when
from shared.telemetry import trace_settings

WATCHERS: tuple[Role, ...] = access.roles(Action.SLA)
STREAM_S = 60.0  # a stream ends after a minute; the browser reconnects by itself (EventSource)
EVERY_S = 1.0
FRESH_S = 10.0
PURPOSE_NAMES = {
    "办件": "办件（含子件）",
    "环节": "办理环节",
    "补齐": "容缺补齐",
    "评价期": "评价期",
    "整改": "差评整改",
    "回访": "差评回访",
    "": "全部",
}

# The stream's 200 is Server-Sent Events; its refusals are JSON like every other route's.
STREAMED = ResponseSpec(
    data_container=str,
    media_type="text/event-stream",
    description="Server-Sent Events：事件名 board，data 为与 GET /api/sla/board 相同的 JSON",
    generate_examples=False,
)

# The board's clock kinds (board.PURPOSES; empty: all), listed in the OpenAPI document; another is a 400 that
# names them (scope).
PurposeParam = Annotated[
    str, QueryParameter(description="时限类别（空：全部）", schema_extra={"enum": [*PURPOSES, ""]})
]

LimitParam = Annotated[
    int,
    QueryParameter(
        description=f"每个清单每页件数，1 到 {MOST_LIMIT}，默认 {DEFAULT_LIMIT}",
        schema_extra={"minimum": 1, "maximum": MOST_LIMIT},
    ),
]

SlaDep = NamedDependency[SlaBoard]
DossiersDep = NamedDependency[Dossiers]


def scope(user: User, purpose: str, department: str) -> tuple[str, str]:
    if purpose not in (*PURPOSES, ""):
        raise HTTPException(status_code=400, detail=f"未知的时限类别：{purpose}（可选：{'、'.join(PURPOSES)}）")
    own = access.rule(user, Action.SLA) is access.Rule.OWN_DEPARTMENT
    return purpose, user.department if own else department


def _changes(view: BoardView) -> bytes:
    """What is worth pushing: everything but the passing of time within the same statuses."""
    marks = [
        (r.clock_id, r.status, r.escalation, r.paused, r.deadline.isoformat(), r.provisional, r.correction)
        for r in (*view.warnings, *view.overdue, *view.closest)
    ]
    lists = [view.overdue_total, view.warnings_total, view.closest_total]
    parts = [view.totals, lists, view.by_department, view.by_item, view.by_clerk, view.rates, marks, view.banner]
    return msgspec.json.encode(parts)


class SlaController(Controller):
    path = "/api/sla"
    tags = ("时限监控",)

    @get("/board", summary="时限监控：预警、逾期统计与清单", **documented())
    async def board(
        self,
        request: Req,
        hall: HallDep,
        sla: SlaDep,
        *,
        purpose: PurposeParam = "办件",
        department: FromQuery[str] = "",
        limit: LimitParam = DEFAULT_LIMIT,
    ) -> BoardView:
        """The counts, and each list's first ``limit`` clocks with its total and next_cursor (the next pages:
        GET /api/sla/lists/{name})."""
        user = access.caller(hall, request, Action.SLA)
        return await sla.view(hall.redis, *scope(user, purpose, department), limit=checked_limit(limit))

    @get(
        "/lists/{name:str}",
        summary="时限监控清单分页：逾期、预警、临近办结期限",
        description="按办结期限、再按时钟编号排序；limit 每页件数，cursor 取上一页的 next_cursor（最后一页没有）；"
        "total 为该清单的总件数。剩余时间按大厅的工作日历计算（remaining：“剩余 1.5 个工作日”）。",
        **documented(*PAGED, reasons=PAGED_REASONS),
    )
    async def list_page(
        self,
        request: Req,
        hall: HallDep,
        sla: SlaDep,
        *,
        name: Annotated[str, PathParameter(schema_extra={"enum": list(LISTS)})],
        purpose: PurposeParam = "办件",
        department: FromQuery[str] = "",
        limit: LimitParam = DEFAULT_LIMIT,
        cursor: CursorParam = "",
    ) -> ClockPage:
        user = access.caller(hall, request, Action.SLA)
        wanted_purpose, wanted_department = scope(user, purpose, department)
        try:
            return await sla.page(
                hall.redis, name, wanted_purpose, wanted_department, limit=checked_limit(limit), cursor=cursor
            )
        except BadCursor as refused:
            raise HTTPException(status_code=422, detail=str(refused)) from None
        except ValueError as refused:
            raise HTTPException(status_code=400, detail=str(refused)) from None

    @get(
        "/stream",
        summary="时限监控实时推送（Server-Sent Events，事件名 board）",
        description="每条事件的 data 为与 GET /api/sla/board 相同的 JSON；一分钟后结束，浏览器自动重连。",
        **documented(own={200: STREAMED}),
    )
    async def stream(
        self,
        request: Req,
        hall: HallDep,
        sla: SlaDep,
        purpose: PurposeParam = "办件",
        department: FromQuery[str] = "",
    ) -> ServerSentEvent:
        user = access.caller(hall, request, Action.SLA)
        wanted = scope(user, purpose, department)

        async def updates() -> AsyncIterator[ServerSentEventMessage]:
            last, sent, ends = b"", 0.0, time.monotonic() + STREAM_S
            while time.monotonic() < ends:
                view = await sla.view(hall.redis, *wanted)
                changed = _changes(view)
                if changed != last or time.monotonic() - sent >= FRESH_S:
                    last, sent = changed, time.monotonic()
                    yield ServerSentEventMessage(data=msgspec.json.encode(view).decode(), event="board")
                await asyncio.sleep(EVERY_S)

        return ServerSentEvent(updates(), retry_duration=1000)

    @get("/cases/{case_no:str}", summary="一件办件的全部时钟", **documented(404))
    async def case(
        self, request: Req, case_no: FromPath[str], hall: HallDep, sla: SlaDep, dossiers: DossiersDep
    ) -> CaseClocks:
        user = access.caller(hall, request, Action.SLA)
        case_id = await hall.case_id(case_no)
        await access.check_case(hall, user, Action.CASE_READ, case_id, case_no, dossiers=dossiers)
        return await sla.case(hall.redis, case_id, case_no)


def pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


HELPERS: dict[str, Any] = {
    "when": when,
    "years_text": years_text,
    "pct": pct,
    "badges": BADGES,
    "purposes": PURPOSE_NAMES,
    "export_most": MOST_ROWS,  # the exports' row cap, shown beside 导出 CSV / 导出 Excel
}


def trend(days: list[Day], purpose: str, department: str) -> dict[str, str]:
    """The board's two trend charts over ``days`` (its filters: the purpose and, when filtered, the department)."""
    labels = [f"{d.day:%m-%d}" for d in days]
    scope = f"{PURPOSE_NAMES.get(purpose, purpose)}·{department or '全部部门'}"
    rate = charts.line_chart(
        f"按时办结率（近 {len(days)} 日，{scope}）",
        labels,
        [charts.Series("按时办结率", [d.rate for d in days])],
        percent=True,
    )
    overdue = charts.bar_chart(
        f"每日新增逾期（近 {len(days)} 日，{scope}）", labels, [d.overdue for d in days], name="新增逾期", unit="件"
    )
    return {"rate": rate, "overdue": overdue}


class SlaPages(Controller):
    path = "/sla"
    include_in_schema = False

    @get("/")
    async def board(
        self,
        request: Req,
        hall: HallDep,
        sla: SlaDep,
        *,
        dossiers: DossiersDep,
        projects: ProjectsDep,
        purpose: PurposeParam = "办件",
        department: FromQuery[str] = "",
    ) -> Template:
        user = hall.users.page_user(request, *WATCHERS)
        wanted = scope(user, purpose, department)
        view = await sla.view(hall.redis, *wanted)
        # The windows' 受理数, 一次告知数 and 不予受理数 of the county (services/gateway/desk/dossier.py).
        intake = await dossiers.counts(hall.redis, view.now.astimezone(LOCAL).date())
        context = {**HELPERS, "user": user, "view": view, "intake": intake}
        # The last 30 days (the hall's clock) of the board's filters: on-time rate and clocks that became 逾期.
        context["trend"] = trend(await sla.daily(hall.redis, *wanted), *wanted)
        # 工程建设项目 with a stage under way: their stages and approval budget (services/gateway/projects).
        context |= {"projects": await projects.active(hall.redis), "days": days}
        context["project_link"] = access.may(user, Action.PROJECTS)
        return Template(template_name="sla/board.html", context=context)

    @get("/cases/{case_no:str}")
    async def case(self, request: Req, case_no: FromPath[str], hall: HallDep, sla: SlaDep) -> Template:
        user = hall.users.page_user(request, *WATCHERS)
        case_id = await hall.case_id(case_no)
        clocks = await sla.case(hall.redis, case_id, case_no)
        timeline = await hall.timeline.entries(hall.redis, case_id)
        context = {**HELPERS, "user": user, "case": clocks, "timeline": timeline}
        traces = trace_settings(hall.settings)  # 查看链路: each event's trace, and all of the case's, in Zipkin
        context |= {"trace_link": traces.link, "case_traces": traces.case_search(case_no), "traced": bool(traces.ui)}
        return Template(template_name="sla/case.html", context=context)
