"""运行监控: records that keep failing for a transient reason past ``HALL_RETRY_ALERT_S`` (Kafka or Redis away for
that long, a record waiting for one that never comes), as each service reports them in ``<ns>:ops:stuck``.

A report is removed by the service when its record finally goes through, so the list holds what is stuck now
and does not grow with history; it is still cut at ``SHOWN`` rows, longest failing first, with the total.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Controller, get
from litestar.response import Template

from services.gateway import access
from services.gateway.access import Action
from services.gateway.context import HallDep, Req
from services.gateway.openapi import documented
from shared.kafka import StuckRecord, stuck_records
from shared.localtime import local

SHOWN = 200
REFRESH_S = 10


class StuckView(msgspec.Struct, frozen=True, kw_only=True):
    """Records stuck now, longest failing first (at most ``SHOWN``), and how many there are."""

    total: int
    records: list[StuckRecord]


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


class OpsController(Controller):
    path = "/api/ops"
    tags = ("运行监控",)

    @get("/stuck", summary="运行监控：持续重试超过告警时限的消息", **documented())
    async def stuck(self, request: Req, hall: HallDep) -> StuckView:
        access.caller(hall, request, Action.OPS)
        return await view(hall)


class OpsPages(Controller):
    path = "/ops"
    include_in_schema = False

    @get("/")
    async def stuck(self, request: Req, hall: HallDep) -> Template:
        user = hall.users.page_user(request, *access.roles(Action.OPS))
        context = {
            "user": user,
            "view": await view(hall),
            "duration": duration,
            "reported": reported,
            "refresh_s": REFRESH_S,
        }
        return Template(template_name="ops/stuck.html", context=context)
