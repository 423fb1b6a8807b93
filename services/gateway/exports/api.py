"""导出: the SLA board, the rating statistics and the 差评整改台账 as CSV or XLSX, with the page's filters.

Each export is authorized like the list it exports (its own action in ``access.TABLE``, the same roles and the same
scoping: a supervisor's board is their department's, a department's desk its own bad reviews) and reads what the
page reads: the board's lists page by page from their sorted sets (``SlaBoard.page``), the desk's bad reviews page
by page (``followups_api.visible``), the statistics' groups (``stats_view``). At most ``sheets.MOST_ROWS`` rows.
Personal data as on the page: the rater's ID number is never exported (the book masks it anyway), names as shown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Response, get
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Schema
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream

from services.gateway import access
from services.gateway.access import Action
from services.gateway.context import HallDep, Req
from services.gateway.exports.sheets import (
    CSV_TYPE,
    FORMAT_TEXT,
    MOST_ROWS,
    XLSX_TYPE,
    Percent,
    Row,
    Table,
    checked_format,
    export,
)
from services.gateway.openapi import Documented, documented
from services.gateway.paging import MOST_LIMIT
from services.gateway.ratings.api import RatingBookDep
from services.gateway.ratings.followups_api import stats_view, visible
from services.gateway.ratings.pages import GROUPS
from services.gateway.ratings.statistics import Figures, Filter, GroupBy
from services.gateway.sla.api import PURPOSE_NAMES, PurposeParam, SlaDep, scope
from services.gateway.sla.board import LISTS, Count
from services.gateway.sla.board import Row as ClockRow
from shared.clock import SYSTEM_CLOCK
from shared.localtime import LOCAL

FormatParam = Annotated[str, QueryParameter(description=FORMAT_TEXT, schema_extra={"enum": ["csv", "xlsx"]})]
FILE = ResponseSpec(
    data_container=str,
    media_type=CSV_TYPE,
    description=f"文件下载（Content-Disposition 带中文文件名）：csv 或 xlsx（format），至多 {MOST_ROWS} 行",
    generate_examples=False,
)


@dataclass
class Downloaded(Documented):
    """An export's 200 is a file of either type, as ``format`` asks."""

    def __post_init__(self) -> None:
        super().__post_init__()
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse):
            binary = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
            ok.content = {CSV_TYPE: OpenAPIMediaType(schema=binary), XLSX_TYPE: OpenAPIMediaType(schema=binary)}


EXPORTED = {**documented(own={200: FILE}), "operation_class": Downloaded}
LIST_NAMES = {"overdue": "逾期", "warnings": "预警", "closest": "临近办结期限"}


def _stamp() -> str:
    return f"{SYSTEM_CLOCK.now().astimezone(LOCAL):%Y%m%d-%H%M}"


# ---------------------------------------------------------------- the SLA board

CLOCK_HEADER = (
    "清单", "办件编号", "类别", "环节", "事项", "部门", "首问责任人", "办结期限", "剩余", "状态", "督办", "暂停原因",
    "暂定", "更正",
)  # fmt: skip
COUNT_HEADER = ("正常", "预警", "逾期", "暂停")


def clock_cells(list_name: str, r: ClockRow) -> Row:
    return [
        LIST_NAMES[list_name],
        r.case_no,
        r.purpose,
        r.step_name,
        r.item_name,
        r.department,
        r.owner_name,
        r.deadline,
        "暂停计时" if r.paused else r.remaining,
        r.status,
        r.escalation,
        r.pause_reason if r.paused else "",
        "暂定" if r.provisional else "",
        r.correction,
    ]


async def _counts(counts: list[Count]) -> AsyncIterator[Row]:
    for c in counts:
        yield [c.name, c.normal, c.warning, c.overdue, c.paused]


# ---------------------------------------------------------------- the statistics

STATS_HEADER = (
    "评价数", "主动评价", "默认评价", "好评率", "主动评价好评率", "未评率", "差评数", "无效差评", "差评回复率",
    "回访整改率", "回访整改满意率",
)  # fmt: skip


def _rate(rate: float | None) -> Percent | None:
    return None if rate is None else Percent(rate)


def figure_cells(label: str, g: Figures) -> Row:
    return [
        label,
        g.services,
        g.active,
        g.defaults,
        _rate(g.good_rate),
        _rate(g.active_good_rate),
        _rate(g.unrated_rate),
        g.bad_reviews,
        g.invalid,
        _rate(g.reply_rate),
        _rate(g.visit_correction_rate),
        _rate(g.visit_correction_satisfaction),
    ]


# ---------------------------------------------------------------- the 差评整改台账

FOLLOWUP_HEADER = (
    "办件编号", "事项", "服务", "部门", "工作人员", "评价", "评价内容", "评价人", "评价时间", "状态", "整改期限",
    "整改逾期", "差评回复", "回访期限", "办结时间",
)  # fmt: skip


class ExportController(Controller):
    path = "/api"
    tags = ("导出",)

    @get(
        "/sla/board/export",
        summary="导出时限监控（逾期、预警、临近办结期限清单；xlsx 另含按部门、事项、首问责任人统计）",
        **EXPORTED,
    )
    async def board(
        self,
        request: Req,
        hall: HallDep,
        sla: SlaDep,
        *,
        format: FormatParam = "csv",
        purpose: PurposeParam = "办件",
        department: FromQuery[str] = "",
    ) -> Response[Any] | Stream:
        user = access.caller(hall, request, Action.SLA_EXPORT)
        fmt = checked_format(format)
        wanted_purpose, wanted_department = scope(user, purpose, department)

        async def clocks() -> AsyncIterator[Row]:
            for name in LISTS:
                cursor = ""
                while True:
                    page = await sla.page(
                        hall.redis, name, wanted_purpose, wanted_department, limit=MOST_LIMIT, cursor=cursor
                    )
                    for r in page.rows:
                        yield clock_cells(name, r)
                    if not page.next_cursor:
                        break
                    cursor = page.next_cursor

        tables = [Table("清单", CLOCK_HEADER, clocks(), widths=[14, 24, 10, 10, 24, 16, 12, 18, 20])]
        if fmt == "xlsx":
            view = await sla.tallies(hall.redis, wanted_purpose, wanted_department)
            for title, counts in (
                ("按部门", view.by_department),
                ("按事项", view.by_item),
                ("按首问责任人", view.by_clerk),
            ):
                tables.append(Table(title, (title[1:], *COUNT_HEADER), _counts(counts), widths=[24]))
        label = PURPOSE_NAMES.get(wanted_purpose, wanted_purpose)
        where = f"-{wanted_department}" if wanted_department else ""
        stamp = _stamp()
        return await export(tables, fmt, f"时限监控-{label}{where}-{stamp}", f"sla-board-{stamp}")

    @get("/ratings/stats/export", summary="导出好差评统计（与统计页相同的维度与筛选）", **EXPORTED)
    async def stats(
        self,
        request: Req,
        hall: HallDep,
        ratings: RatingBookDep,
        *,
        format: FormatParam = "csv",
        by: FromQuery[GroupBy] = "department",
        department: FromQuery[str] = "",
        item: FromQuery[str] = "",
        clerk: FromQuery[str] = "",
        since: FromQuery[date | None] = None,
        until: FromQuery[date | None] = None,
    ) -> Response[Any] | Stream:
        access.caller(hall, request, Action.STATS_EXPORT)
        fmt = checked_format(format)
        where = Filter(department=department, item=item, clerk=clerk, since=since, until=until)
        view = await stats_view(hall, ratings, by, where)

        def who(user_id: str) -> str:
            user = hall.users.get(user_id)
            return user.name if user else user_id

        async def rows() -> AsyncIterator[Row]:
            for g in view.groups:
                yield figure_cells(who(g.group) if by == "clerk" else g.group, g)
            yield figure_cells("合计", view.total)

        header = (GROUPS.get(by, "分组"), *STATS_HEADER)
        stamp = _stamp()
        table = Table("好差评统计", header, rows(), widths=[24])
        return await export([table], fmt, f"好差评统计-按{GROUPS.get(by, '合计')}-{stamp}", f"rating-stats-{stamp}")

    @get("/ratings/followups/export", summary="导出差评整改台账（与台账相同的范围与状态筛选）", **EXPORTED)
    async def followups(
        self,
        request: Req,
        hall: HallDep,
        ratings: RatingBookDep,
        *,
        format: FormatParam = "csv",
        status: FromQuery[str] = "",
    ) -> Response[Any] | Stream:
        user = access.caller(hall, request, Action.FOLLOWUP_EXPORT)
        fmt = checked_format(format)
        now = SYSTEM_CLOCK.now()

        def who(user_id: str) -> str:
            found = hall.users.get(user_id)
            return found.name if found else user_id

        async def rows() -> AsyncIterator[Row]:
            cursor = ""
            while True:
                shown, found = await visible(ratings, hall, user, status, limit=MOST_LIMIT, cursor=cursor)
                for f in shown:
                    open_ = f.status in ("待核实", "申诉中", "整改中")
                    late = open_ and (f.overdue or (f.deadline is not None and f.deadline < now))
                    yield [
                        f.case_no,
                        f.item_name,
                        f.stage,
                        "、".join(f.departments) if f.departments else f.department,
                        who(f.clerk),
                        f.level,
                        f.text,
                        f.rater.name + ("（实名）" if f.rater.real_name else ""),
                        f.opened_at,
                        f.status,
                        f.deadline,
                        "已逾期" if late else "",
                        f.reply,
                        f.visit_deadline,
                        f.closed_at,
                    ]
                if not found.next_cursor:
                    return
                cursor = found.next_cursor

        stamp = _stamp()
        table = Table("差评整改台账", FOLLOWUP_HEADER, rows(), widths=[24, 24, 8, 20, 10, 10, 30, 12, 18, 10, 18])
        suffix = f"-{status}" if status else ""
        return await export([table], fmt, f"差评整改台账{suffix}-{stamp}", f"followups-{stamp}")
