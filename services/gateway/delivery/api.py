"""The front desk's delivery (统一窗口出件): the ready-for-pickup list, recording a delivery at the window or by
post, and the printable delivery note (送达回执, with a refusal's reasons)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.response import Template

from services.gateway import access
from services.gateway.access import Action
from services.gateway.context import Gateway, HallDep, Req
from services.gateway.delivery.ready import CaseAtWindow, Deliveries
from services.gateway.delivery.schemas import DeliveriesView, DeliverIn, RecordDelivery
from services.gateway.desk.dossier import Dossiers
from services.gateway.legal import legal_text
from services.gateway.openapi import COMMAND, Carried, documented, success
from services.gateway.users import User
from shared import topics
from shared.localtime import when
from shared.pii import for_settings

DeliveriesDep = NamedDependency[Deliveries]
DossiersDep = NamedDependency[Dossiers]


async def at_point(hall: Gateway, dossiers: Dossiers, user: User, cases: list[CaseAtWindow]) -> list[CaseAtWindow]:
    """The cases a clerk hands out: those of their own point (the banner hall: every case of the county)."""
    if access.rule(user, Action.DELIVERIES) is not access.Rule.OWN_POINT or user.point == access.BANNER_HALL:
        return cases
    shown = []
    for case in cases:
        dossier = await dossiers.get(hall.redis, case.case_id)
        if dossier is not None and access.at_point(user, dossier):
            shown.append(case)
    return shown


class DeliveryController(Controller):
    tags = ("统一窗口出件",)

    @get(
        "/api/deliveries",
        summary="待出件办件（含容缺材料情况）",
        description="窗口人员看到本场所受理的办件（旗政务服务中心：全旗办件），运维人员看到全部。",
        **documented(),
    )
    async def ready(
        self, request: Req, hall: HallDep, deliveries: DeliveriesDep, dossiers: DossiersDep
    ) -> DeliveriesView:
        user = access.caller(hall, request, Action.DELIVERIES)
        return DeliveriesView(ready=await at_point(hall, dossiers, user, await deliveries.ready(hall.redis)))

    @post(
        "/api/deliveries/{case_no:str}",
        summary="出件：窗口领取或邮寄送达",
        status_code=200,
        description="只能为本场所受理的办件出件（旗政务服务中心：全旗办件），其他场所的办件 403。",
        **documented(
            *COMMAND,
            own={200: success(Carried, "已出件：审批服务发布的事件（published）")},
            reasons={409: "办件尚未办结、已出件，或容缺材料尚未补齐", 422: "邮寄送达没有收件地址，或内容不合规"},
        ),
    )
    async def deliver(
        self, request: Req, case_no: FromPath[str], data: JSONBody[DeliverIn], hall: HallDep, dossiers: DossiersDep
    ) -> Response[Any]:
        user = access.caller(hall, request, Action.DELIVER)
        case_id = await hall.case_id(case_no)
        await access.check_case(hall, user, Action.DELIVER, case_id, case_no, dossiers=dossiers)
        address = for_settings(hall.settings).seal(data.address.strip())  # sealed from here on (shared.pii)
        command = RecordDelivery(method=data.method, address=address)
        return await hall.send(topics.ROUTING_COMMANDS, command, case_id, user.actor)

    @get("/desk/delivery", include_in_schema=False)
    async def desk(self, request: Req, hall: HallDep, deliveries: DeliveriesDep, dossiers: DossiersDep) -> Template:
        user = hall.users.page_user(request, *access.roles(Action.DELIVERIES))
        cases = await at_point(hall, dossiers, user, await deliveries.ready(hall.redis))
        context = {"user": user, "cases": cases, "when": when}
        return Template(template_name="delivery/desk.html", context=context)

    @get("/desk/delivery/{case_no:str}", include_in_schema=False)
    async def note(
        self, request: Req, case_no: FromPath[str], hall: HallDep, deliveries: DeliveriesDep, dossiers: DossiersDep
    ) -> Template:
        user = hall.users.page_user(request, *access.roles(Action.DELIVERIES))
        case_id = await hall.case_id(case_no)
        await access.check_case(hall, user, Action.DELIVERIES, case_id, case_no, dossiers=dossiers)
        case = await deliveries.case(hall.redis, case_id)
        if case is None or not case.result:
            raise NotFoundException(f"办件 {case_no} 尚未办结，没有出件单")
        dossier = await dossiers.get(hall.redis, case_id)
        legal = legal_text(dossier.item_code if dossier else "", "不予许可")
        context = {"user": user, "case": case, "when": when, "legal": legal}
        return Template(template_name="delivery/note.html", context=context)
