"""工程建设项目: registration (a clerk), the paginated list, one project with its stages and its approval budget,
and their pages for clerks and operators."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.response import Template

from services.gateway import access
from services.gateway.access import Action
from services.gateway.context import Gateway, HallDep, Req
from services.gateway.openapi import COMMAND, documented, success
from services.gateway.projects.model import ProjectList, Projects, ProjectView
from services.gateway.projects.schemas import PROJECT_CODE, PROJECT_CODE_TEXT, ProjectIn, Registered, RegisterProject
from shared import topics
from shared.catalogue import limit_text
from shared.localtime import when

ProjectsDep = NamedDependency[Projects]
PAGE_SIZE, MOST_PER_PAGE = 20, 200
PER_PAGE: dict[str, Any] = {"minimum": 1, "maximum": MOST_PER_PAGE}


def project_case_id(hall: Gateway, code: str) -> str:
    """Every command about one project goes to one partition: its registrations are answered in order."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{hall.settings.namespace}:project:{code}").hex


def checked_code(code: str) -> str:
    """A 项目代码, or 404 naming the format (no project has another; any string is a valid path)."""
    code = code.strip()
    if PROJECT_CODE.fullmatch(code) is None:
        raise NotFoundException(f"没有项目代码为“{code[:40]}”的工程建设项目：项目代码格式为{PROJECT_CODE_TEXT}")
    return code


MOST_PAGES = 100_000  # page × size stays a number Redis takes as an offset


def checked_page(page: int, size: int) -> None:
    if not 1 <= page <= MOST_PAGES:
        raise ValidationException(f"page 须在 1 到 {MOST_PAGES} 之间，收到 {page}")
    if not 1 <= size <= MOST_PER_PAGE:
        raise ValidationException(f"size 须在 1 到 {MOST_PER_PAGE} 之间，收到 {size}")


async def found(hall: Gateway, projects: Projects, code: str) -> ProjectView:
    project = await projects.get(hall.redis, checked_code(code))
    if project is None:
        raise NotFoundException(f"没有项目代码为 {code} 的工程建设项目")
    return project


def days(value: float) -> str:
    """``12.5``, ``15``: working days as a page shows them."""
    rounded = round(value, 1)
    return f"{int(rounded)}" if float(rounded).is_integer() else f"{rounded}"


HELPERS: dict[str, Any] = {"when": when, "days": days, "limit_text": limit_text}


class ProjectsController(Controller):
    path = "/api/projects"
    tags = ("工程建设项目",)

    @post(
        "/",
        summary="登记工程建设项目",
        status_code=201,
        description=(
            "窗口人员登记一次：项目代码（投资项目在线审批监管平台赋码）、项目名称、建设单位及其统一社会信用代码、建设地点、"
            "工程建设项目类型（决定审批阶段，见事项目录的项目类型）。之后各阶段分别申报（POST /api/cases，"
            "item_code 为该阶段的一件事编码，project_code 为项目代码），前一阶段准予后才能申报下一阶段。"
        ),
        **documented(
            *COMMAND,
            own={201: success(Registered, "已登记：项目类型及其各审批阶段、审批时限")},
            reasons={
                409: "项目代码已登记",
                422: "项目代码格式、统一社会信用代码校验位有误，或项目类型未知（指出原因）",
            },
        ),
    )
    async def register(self, request: Req, data: JSONBody[ProjectIn], hall: HallDep) -> Response[Any]:
        user = access.caller(hall, request, Action.PROJECT_REGISTER)
        command = RegisterProject(
            project_code=data.project_code.strip(),
            name=data.name.strip(),
            builder=data.builder.strip(),
            builder_uscc=data.builder_uscc.strip(),
            location=data.location.strip(),
            project_type=data.project_type.strip(),
        )
        return await hall.send(topics.INTAKE_COMMANDS, command, project_case_id(hall, command.project_code), user.actor)

    @get(
        "/",
        summary="工程建设项目清单",
        description=f"最近登记的在前，分页（page 从 1 起，size 默认 {PAGE_SIZE}、至多 {MOST_PER_PAGE}）。",
        **documented(),
    )
    async def list_(
        self,
        request: Req,
        hall: HallDep,
        projects: ProjectsDep,
        *,
        page: Annotated[
            int, Parameter(description="页码，从 1 起", schema_extra={"minimum": 1, "maximum": MOST_PAGES})
        ] = 1,
        size: Annotated[int, Parameter(description="每页项目数", schema_extra=PER_PAGE)] = PAGE_SIZE,
    ) -> ProjectList:
        access.caller(hall, request, Action.PROJECTS)
        checked_page(page, size)
        shown, total = await projects.page(hall.redis, page, size)
        return ProjectList(projects=shown, total=total, page=page, size=size)

    @get(
        "/{project_code:str}",
        summary="工程建设项目：各阶段及审批时间",
        description=(
            "各阶段的状态（未申报 / 审批中 / 准予 / 不予）、办件编号、申报和办结时间、承诺办结时间、"
            "本阶段自身计时所用工作日（暂停不计）、批复证照；项目的审批时限（budget）、已用（used，各已办结阶段之和）、"
            "审批中阶段的承诺时限（running）和剩余（remaining = budget − used）。阶段之间建设单位准备的时间不计。"
        ),
        **documented(404, reasons={404: "没有该项目代码的项目（格式不符时指出项目代码的格式）"}),
    )
    async def one(self, request: Req, project_code: FromPath[str], hall: HallDep, projects: ProjectsDep) -> ProjectView:
        access.caller(hall, request, Action.PROJECTS)
        return await found(hall, projects, project_code)


class ProjectPages(Controller):
    path = "/projects"
    include_in_schema = False

    @get("/")
    async def list_page(
        self, request: Req, hall: HallDep, projects: ProjectsDep, *, page: FromQuery[int] = 1
    ) -> Template:
        user = hall.users.page_user(request, *access.roles(Action.PROJECTS))
        total = int(await hall.redis.zcard(projects.key("projects")))
        pages = max(1, -(-total // PAGE_SIZE))
        page = max(1, min(page, pages))
        shown, total = await projects.page(hall.redis, page, PAGE_SIZE)
        context = {
            **HELPERS,
            "user": user,
            "projects": shown,
            "page": page,
            "pages": pages,
            "total": total,
            "types": list(projects.catalogue.project_types.values()),
            "may_register": access.may(user, Action.PROJECT_REGISTER),
        }
        return Template(template_name="projects/list.html", context=context)

    @get("/{project_code:str}")
    async def detail(self, request: Req, project_code: FromPath[str], hall: HallDep, projects: ProjectsDep) -> Template:
        user = hall.users.page_user(request, *access.roles(Action.PROJECTS))
        project = await found(hall, projects, project_code)
        return Template(template_name="projects/detail.html", context={**HELPERS, "user": user, "project": project})
