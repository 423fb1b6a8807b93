"""The clerks' desk (受理台): find an item, fill the application with a live checklist, print the receipt or notice;
我的办件 (the cases this clerk owns, 首问负责) and each case's printable receipt or 不予受理通知书."""

from __future__ import annotations

from datetime import datetime

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from services.gateway import access
from services.gateway.access import Action
from services.gateway.cases.timeline import current_state
from services.gateway.context import Gateway, HallDep, Req
from services.gateway.desk.dossier import Dossier, Dossiers
from services.gateway.legal import legal_text
from services.gateway.provisional import PENDING, deadline_text, years_text
from services.gateway.steps.notify import case_notices
from services.gateway.users import User
from shared.catalogue import limit_text
from shared.localtime import when as when_known
from shared.points import load_points

DossiersDep = NamedDependency[Dossiers]
POINTS = load_points()


def when(moment: datetime | None) -> str:
    return when_known(moment, PENDING)


# deadline(d.promised_deadline, d.provisional): 2027-01-04 17:30（暂定，以国务院公布的放假安排为准）
HELPERS = {
    "when": when,
    "limit_text": limit_text,
    "deadline": deadline_text,
    "years_text": years_text,
    "legal_text": legal_text,
}


class DeskController(Controller):
    @get("/desk", include_in_schema=False)
    async def desk(self, request: Req, hall: HallDep, item: FromQuery[str] = "") -> Template:
        user = hall.users.page_user(request, "clerk")
        point = POINTS.get(user.point)
        context = {"user": user, "point": point, "item": item}
        return Template(template_name="desk/desk.html", context=context)

    @get("/desk/cases", include_in_schema=False)
    async def my_cases(self, request: Req, hall: HallDep, dossiers: DossiersDep) -> Template:
        user = hall.users.page_user(request, "clerk")
        cases = await dossiers.owned(hall.redis, user.id)
        states = {d.case_id: current_state(await hall.timeline.entries(hall.redis, d.case_id)) for d in cases}
        context = {"user": user, "cases": cases, "states": states, **HELPERS}
        return Template(template_name="desk/cases.html", context=context)

    @get("/desk/cases/{case_no:str}", include_in_schema=False)
    async def case_page(self, request: Req, hall: HallDep, dossiers: DossiersDep, case_no: FromPath[str]) -> Template:
        user = hall.users.page_user(request, "clerk", "operator", "supervisor")
        dossier = visible(user, await _dossier(hall, dossiers, case_no), case_no)
        state = current_state(await hall.timeline.entries(hall.redis, dossier.case_id))
        context = {"user": user, "d": dossier, "state": state, "pending": pending(dossier), **HELPERS}
        context["notices"] = await case_notices(hall.settings, hall.redis, dossier.case_no)  # 延长/特别程序告知书
        return Template(template_name="desk/case.html", context=context)

    @get("/desk/cases/{case_no:str}/document", include_in_schema=False)
    async def document(self, request: Req, hall: HallDep, dossiers: DossiersDep, case_no: FromPath[str]) -> Template:
        """The receipt or notice alone, for the desk page to show and print right after submitting."""
        user = hall.users.page_user(request, "clerk", "operator", "supervisor")
        dossier = visible(user, await _dossier(hall, dossiers, case_no), case_no)
        context = {"user": user, "d": dossier, "pending": pending(dossier), **HELPERS}
        return Template(template_name="desk/document.html", context=context)


async def _dossier(hall: Gateway, dossiers: Dossiers, case_no: str) -> Dossier | None:
    case_id = await hall.timeline.case_id(hall.redis, case_no)
    return await dossiers.get(hall.redis, case_id) if case_id else None


def pending(d: Dossier) -> bool:
    """A deadline on the receipt is still being computed by timing (shown as 计算中)."""
    if d.outcome != "受理":
        return False
    if d.promised_deadline is None:
        return True
    if d.deferred and d.owed and d.supplement_deadline is None:
        return True
    return any(c.stage == 1 and c.promised_deadline is None for c in d.children)


def visible(user: User, dossier: Dossier | None, case_no: str) -> Dossier:
    """The access table's case reading rule (services/gateway/access.py): a clerk sees the cases of their own
    service point (the banner hall: every case of the county); operators and supervisors see every case."""
    if dossier is None:
        raise NotFoundException(f"没有办件编号为 {case_no} 的办件（或回执正在生成）")
    found = access.require(user, Action.CASE_READ)
    if found is access.Rule.OWN_POINT and not access.at_point(user, dossier):
        raise PermissionDeniedException(f"办件 {case_no} 由{dossier.owner_name}在其他场所受理")
    if found is not access.Rule.OWN_POINT and found is not access.Rule.ANY:
        raise PermissionDeniedException(f"{user.name}（{user.role_name}）无权查看受理回执")
    return dossier
