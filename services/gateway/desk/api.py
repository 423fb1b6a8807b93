"""The clerks' desk (受理台): find an item, fill the application with a live checklist, print the receipt or notice;
我的办件 (the cases this clerk owns, 首问负责) and each case's printable receipt or 不予受理通知书."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from services.gateway import access
from services.gateway.access import Action
from services.gateway.context import Gateway, HallDep, Req
from services.gateway.desk.dossier import Dossier, Dossiers, OneTimeNotice
from services.gateway.desk.helpers import HELPERS
from services.gateway.paging import DEFAULT_LIMIT, checked_limit, zpage
from services.gateway.steps.notify import case_notices
from services.gateway.users import User
from shared.clock import SYSTEM_CLOCK
from shared.localtime import LOCAL
from shared.points import load_points
from shared.telemetry import trace_settings

DossiersDep = NamedDependency[Dossiers]
POINTS = load_points()


class DeskController(Controller):
    @get("/desk", include_in_schema=False)
    async def desk(self, request: Req, hall: HallDep, item: FromQuery[str] = "") -> Template:
        user = hall.users.page_user(request, "clerk")
        point = POINTS.get(user.point)
        context = {"user": user, "point": point, "item": item}
        return Template(template_name="desk/desk.html", context=context)

    @get("/desk/cases", include_in_schema=False)
    async def my_cases(
        self,
        request: Req,
        hall: HallDep,
        dossiers: DossiersDep,
        *,
        limit: FromQuery[int] = DEFAULT_LIMIT,
        cursor: FromQuery[str] = "",
    ) -> Template:
        """我的办件, newest first, a page at a time from the clerk's own index (``owned:{clerk}``)."""
        user = hall.users.page_user(request, "clerk")
        found = await zpage(hall.redis, dossiers.key("owned", user.id), checked_limit(limit), cursor, newest_first=True)
        cases = await dossiers.many(hall.redis, found.ids)
        states = await hall.timeline.states(hall.redis, [d.case_id for d in cases])
        context = {"user": user, "cases": cases, "states": states, **HELPERS}
        context |= {"total": found.total, "next_cursor": found.next_cursor, "first_page": not cursor, "limit": limit}
        # 一次告知书 this clerk issued (reprintable), and the window's counts: the banner hall's clerks see the
        # county's, a town or village clerk their own point's.
        context["notices"] = await dossiers.notices(hall.redis, user.id)
        point = "" if user.point == access.BANNER_HALL else access.point_name(user.point)
        today = SYSTEM_CLOCK.now().astimezone(LOCAL).date()
        context["counts"], context["counts_of"] = await dossiers.counts(hall.redis, today, point), point or "全旗"
        return Template(template_name="desk/cases.html", context=context)

    @get("/desk/cases/{case_no:str}", include_in_schema=False)
    async def case_page(self, request: Req, hall: HallDep, dossiers: DossiersDep, case_no: FromPath[str]) -> Template:
        user = hall.users.page_user(request, "clerk", "operator", "supervisor")
        dossier = visible(user, await _dossier(hall, dossiers, case_no), case_no)
        state = (await hall.timeline.states(hall.redis, [dossier.case_id]))[dossier.case_id]
        context = {"user": user, "d": dossier, "state": state, "pending": pending(dossier), **HELPERS}
        context["notices"] = await case_notices(hall.settings, hall.redis, dossier.case_no)  # 延长/特别程序告知书
        context["case_traces"] = trace_settings(hall.settings).case_search(
            dossier.case_no
        )  # 查看链路 ("" without a UI)
        return Template(template_name="desk/case.html", context=context)

    @get("/desk/cases/{case_no:str}/document", include_in_schema=False)
    async def document(self, request: Req, hall: HallDep, dossiers: DossiersDep, case_no: FromPath[str]) -> Template:
        """The receipt or notice alone, for the desk page to show and print right after submitting."""
        user = hall.users.page_user(request, "clerk", "operator", "supervisor")
        dossier = visible(user, await _dossier(hall, dossiers, case_no), case_no)
        context = {"user": user, "d": dossier, "pending": pending(dossier), **HELPERS}
        return Template(template_name="desk/document.html", context=context)

    @get("/desk/notices/{notice_no:str}", include_in_schema=False)
    async def notice_page(
        self, request: Req, hall: HallDep, dossiers: DossiersDep, notice_no: FromPath[str]
    ) -> Template:
        """A 一次性告知书 as issued, to reprint."""
        user = hall.users.page_user(request, "clerk", "operator", "supervisor")
        notice = notice_visible(user, await dossiers.notice(hall.redis, notice_no), notice_no)
        return Template(template_name="desk/notice.html", context={"user": user, "n": notice, **HELPERS})

    @get("/desk/notices/{notice_no:str}/document", include_in_schema=False)
    async def notice_document(
        self, request: Req, hall: HallDep, dossiers: DossiersDep, notice_no: FromPath[str]
    ) -> Template:
        """The 一次性告知书 alone, for the desk page to show and print right after the answer."""
        user = hall.users.page_user(request, "clerk", "operator", "supervisor")
        notice = notice_visible(user, await dossiers.notice(hall.redis, notice_no), notice_no)
        return Template(template_name="desk/_notice.html", context={"user": user, "n": notice, **HELPERS})


def notice_visible(user: User, notice: OneTimeNotice | None, notice_no: str) -> OneTimeNotice:
    """The case reading rule applied to a 一次告知书: a clerk sees their own point's (the banner hall: all)."""
    if notice is None:
        raise NotFoundException(f"没有编号为 {notice_no} 的一次性告知书（或告知书正在生成）")
    found = access.require(user, Action.CASE_READ)
    if found is access.Rule.OWN_POINT:
        mine = user.point == access.BANNER_HALL or notice.owner == user.id
        if not mine and notice.point_name != access.point_name(user.point):
            raise PermissionDeniedException(f"一次性告知书 {notice_no} 由{notice.owner_name}在其他场所出具")
    elif found is not access.Rule.ANY:
        raise PermissionDeniedException(f"{user.name}（{user.role_name}）无权查看一次性告知书")
    return notice


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
