"""The front desk's delivery (统一窗口出件): the ready-for-pickup list, recording a delivery at the window or by
post, and the printable delivery note (送达回执, with a refusal's reasons)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.response import Template

from services.gateway.context import HallDep, Req
from services.gateway.delivery.ready import Deliveries
from services.gateway.delivery.schemas import DeliveriesView, DeliverIn, RecordDelivery
from shared import topics
from shared.localtime import when
from shared.pii import for_secret

DeliveriesDep = NamedDependency[Deliveries]


class DeliveryController(Controller):
    tags = ("统一窗口出件",)

    @get("/api/deliveries", summary="待出件办件（含容缺材料情况）")
    async def ready(self, request: Req, hall: HallDep, deliveries: DeliveriesDep) -> DeliveriesView:
        hall.users.caller(request, "clerk", "operator")
        return DeliveriesView(ready=await deliveries.ready(hall.redis))

    @post("/api/deliveries/{case_no:str}", summary="出件：窗口领取或邮寄送达", status_code=200)
    async def deliver(
        self, request: Req, case_no: FromPath[str], data: JSONBody[DeliverIn], hall: HallDep
    ) -> Response[Any]:
        user = hall.users.caller(request, "clerk")
        case_id = await hall.case_id(case_no)
        address = for_secret(hall.settings.secret).seal(data.address.strip())  # sealed from here on (shared.pii)
        command = RecordDelivery(method=data.method, address=address)
        return await hall.send(topics.ROUTING_COMMANDS, command, case_id, user.actor)

    @get("/desk/delivery", include_in_schema=False)
    async def desk(self, request: Req, hall: HallDep, deliveries: DeliveriesDep) -> Template:
        user = hall.users.page_user(request, "clerk", "operator")
        context = {"user": user, "cases": await deliveries.ready(hall.redis), "when": when}
        return Template(template_name="delivery/desk.html", context=context)

    @get("/desk/delivery/{case_no:str}", include_in_schema=False)
    async def note(self, request: Req, case_no: FromPath[str], hall: HallDep, deliveries: DeliveriesDep) -> Template:
        user = hall.users.page_user(request, "clerk", "operator")
        case = await deliveries.case(hall.redis, await hall.case_id(case_no))
        if case is None or not case.result:
            raise NotFoundException(f"办件 {case_no} 尚未办结，没有出件单")
        return Template(template_name="delivery/note.html", context={"user": user, "case": case, "when": when})
