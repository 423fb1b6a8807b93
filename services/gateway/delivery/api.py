"""The front desk's delivery (统一窗口出件): the ready-for-pickup list, recording a delivery at the window or by
post, and the printable delivery note (送达回执, with a refusal's reasons)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Template

from services.gateway import access
from services.gateway.access import Action
from services.gateway.context import Gateway, HallDep, Req
from services.gateway.delivery.ready import CaseAtWindow, Deliveries
from services.gateway.delivery.schemas import DeliveriesView, DeliverIn, RecordDelivery
from services.gateway.desk.dossier import Dossiers
from services.gateway.legal import LegalText, legal_text
from services.gateway.openapi import COMMAND, Carried, documented, success
from services.gateway.paging import (
    DEFAULT_LIMIT,
    PAGED,
    PAGED_REASONS,
    PAGING_TEXT,
    CursorParam,
    LimitParam,
    Slice,
    checked_limit,
    refuse_legacy,
)
from services.gateway.users import User
from shared import topics
from shared.localtime import when
from shared.pii import for_settings

DeliveriesDep = NamedDependency[Deliveries]
DossiersDep = NamedDependency[Dossiers]


def point_of(user: User) -> str:
    """Whose pick-up list a user sees: their own point's (its name), or "" for the county's (the banner hall's
    clerks, and the roles that see every point)."""
    if access.rule(user, Action.DELIVERIES) is not access.Rule.OWN_POINT or user.point == access.BANNER_HALL:
        return ""
    return access.point_name(user.point) or user.point


async def ready_page(
    hall: Gateway, deliveries: Deliveries, dossiers: Dossiers, user: User, *, limit: int, cursor: str
) -> tuple[list[CaseAtWindow], Slice]:
    """A page of the cases the user hands out, from the pick-up list's sorted sets (never a scan)."""

    async def dossier_point(case_id: str) -> str:
        dossier = await dossiers.get(hall.redis, case_id)
        return dossier.point_name if dossier is not None else ""

    await deliveries.ensure_index(hall.redis, dossier_point)
    return await deliveries.ready_page(hall.redis, point_of(user), checked_limit(limit), cursor)


def refusals(case: CaseAtWindow, fallback: str) -> dict[str, LegalText]:
    """The legal wording of each refused item, by its own case number (a bundle child's own item and law)."""
    return {i.case_no: legal_text(i.item_code or fallback, "不予许可") for i in case.items if i.result == "不予"}


class DeliveryController(Controller):
    tags = ("统一窗口出件",)

    @get(
        "/api/deliveries",
        summary="待出件办件（含容缺材料情况）",
        description=(
            "窗口人员看到本场所受理的办件（旗政务服务中心：全旗办件），运维人员看到全部；按办结时间先后排列。"
            "每个办件列出各事项（一件事的各子件）自己的办理结果和证照。" + PAGING_TEXT
        ),
        **documented(*PAGED, reasons=PAGED_REASONS),
    )
    async def ready(
        self,
        request: Req,
        hall: HallDep,
        deliveries: DeliveriesDep,
        dossiers: DossiersDep,
        *,
        limit: LimitParam = DEFAULT_LIMIT,
        cursor: CursorParam = "",
    ) -> DeliveriesView:
        user = access.caller(hall, request, Action.DELIVERIES)
        refuse_legacy(request.query_params)
        cases, found = await ready_page(hall, deliveries, dossiers, user, limit=limit, cursor=cursor)
        return DeliveriesView(items=cases, next_cursor=found.next_cursor, total=found.total)

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
    async def desk(
        self,
        request: Req,
        hall: HallDep,
        deliveries: DeliveriesDep,
        dossiers: DossiersDep,
        *,
        cursor: FromQuery[str] = "",
    ) -> Template:
        user = hall.users.page_user(request, *access.roles(Action.DELIVERIES))
        cases, found = await ready_page(hall, deliveries, dossiers, user, limit=DEFAULT_LIMIT, cursor=cursor)
        context = {"user": user, "cases": cases, "when": when, "total": found.total, "first_page": not cursor}
        context["next_cursor"] = found.next_cursor
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
        code = dossier.item_code if dossier else ""
        legal = legal_text(code, "不予许可")
        # a bundle's 结果通知 lists each child's own result; a single item's refusal is its 不予…决定书
        title = "办理结果通知书" if case.bundle else legal.title if case.result == "不予" else "办件出件单"
        context = {"user": user, "case": case, "when": when, "legal": legal, "refusals": refusals(case, code)}
        context["title"] = title
        return Template(template_name="delivery/note.html", context=context)
