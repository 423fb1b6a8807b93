"""The catalogue for clerks, kiosks and operators: search by name, code or keyword; an entry's materials and limits."""

from __future__ import annotations

from datetime import date

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Template

from services.gateway import access
from services.gateway.access import Action
from services.gateway.catalogue.assessment import AssessmentIn, AssessmentOut, BadAssessment, assessment
from services.gateway.catalogue.model import Catalogue, OfferingDetail, OfferingSummary
from services.gateway.context import HallDep, Req
from services.gateway.openapi import documented
from shared.clock import SYSTEM_CLOCK
from shared.localtime import LOCAL

CatalogueDep = NamedDependency[Catalogue]


class CatalogueList(msgspec.Struct, frozen=True, kw_only=True):
    query: str
    on: date
    entries: list[OfferingSummary]


def today() -> date:
    """The hall's date today (its system clock, which ``HALL_CLOCK_OFFSET_S`` may move): which versions are in force."""
    return SYSTEM_CLOCK.now().astimezone(LOCAL).date()


def known(catalogue: Catalogue, code: str) -> OfferingDetail:
    entry = catalogue.find(code)
    if entry is None:
        raise NotFoundException(f"目录中没有编码为 {code} 的事项或一件事")
    return catalogue.detail(entry, today())


class CatalogueController(Controller):
    tags = ("事项目录",)

    @get(
        "/api/catalogue",
        summary="检索事项目录",
        description="按事项名称、实施编码、基本编码、部门或关键词检索事项和一件事（多个词以空格分隔，须全部命中）；"
        "不带 q 时列出全部。时限为今天有效的版本。",
        **documented(),
    )
    async def search(
        self, request: Req, hall: HallDep, catalogue: CatalogueDep, q: FromQuery[str] = ""
    ) -> CatalogueList:
        access.caller(hall, request, Action.CATALOGUE)
        return CatalogueList(query=q, on=today(), entries=catalogue.search(q, today()))

    @get(
        "/api/catalogue/{code:str}",
        summary="事项或一件事的详情",
        description="设定依据、实施主体及其统一社会信用代码、行使层级、受理条件、材料清单（必备/容缺/告知承诺/可复用、"
        "原件复印件份数）、各版本的法定与承诺时限；一件事另有各子项及其阶段和时限。",
        **documented(404),
    )
    async def show(self, request: Req, hall: HallDep, catalogue: CatalogueDep, code: FromPath[str]) -> OfferingDetail:
        access.caller(hall, request, Action.CATALOGUE)
        return known(catalogue, code)

    @post(
        "/api/catalogue/{code:str}/assessment",
        summary="检查申请材料（一次告知、容缺）",
        status_code=200,
        description="窗口受理时的实时材料检查：按受理时的同一规则（shared/assessment.py），对照事项的材料清单检查已勾选的"
        "材料，答复缺少哪些（一次告知）、哪些可容缺、能否受理。不查申请人以往办件中可复用的材料（提交时受理系统自动复用）。",
        **documented(
            404,
            reasons={422: "材料编码不在该事项的材料清单中，或该事项未实行告知承诺制（指出原因）"},
        ),
    )
    async def assess(
        self,
        request: Req,
        hall: HallDep,
        catalogue: CatalogueDep,
        code: FromPath[str],
        data: JSONBody[AssessmentIn],
    ) -> AssessmentOut:
        access.caller(hall, request, Action.ASSESS)
        offering = catalogue.source.offering(code)
        if offering is None:
            raise NotFoundException(f"目录中没有编码为 {code} 的事项或一件事")
        try:
            return assessment(catalogue.source, offering, data)
        except BadAssessment as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None

    @get("/catalogue", include_in_schema=False)
    async def page(self, request: Req, hall: HallDep, catalogue: CatalogueDep, q: FromQuery[str] = "") -> Template:
        user = hall.users.page_user(request, "clerk", "operator", "supervisor", "staff")
        context = {"user": user, "q": q, "entries": catalogue.search(q, today())}
        return Template(template_name="catalogue/list.html", context=context)

    @get("/catalogue/{code:str}", include_in_schema=False)
    async def entry_page(self, request: Req, hall: HallDep, catalogue: CatalogueDep, code: FromPath[str]) -> Template:
        user = hall.users.page_user(request, "clerk", "operator", "supervisor", "staff")
        return Template(template_name="catalogue/detail.html", context={"user": user, "e": known(catalogue, code)})
