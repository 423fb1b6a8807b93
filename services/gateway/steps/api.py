"""The back-office API: a department's inbox and escalations, a step with its audit trail, and what staff do
on a step. Routing decides every command (and refuses with the reason); the gateway names who acts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody, QueryParameter

from services.gateway import access
from services.gateway.access import Action
from services.gateway.changes import answer_on_change
from services.gateway.context import Gateway, HallDep, Req
from services.gateway.desk.dossier import Dossiers
from services.gateway.openapi import COMMAND, WAITABLE, Carried, documented, success
from services.gateway.paging import (
    DEFAULT_LIMIT,
    PAGED,
    PAGED_REASONS,
    PAGING_TEXT,
    CursorParam,
    LimitParam,
    checked_limit,
    refuse_legacy,
)
from services.gateway.steps.schemas import (
    ClaimStep,
    DecideExtension,
    DecideStep,
    DecisionIn,
    EndSpecialProcedure,
    EscalationsView,
    ExtensionDecisionIn,
    ExtensionIn,
    InboxView,
    Limit,
    ReassignIn,
    ReassignStep,
    RequestExtension,
    ResumeIn,
    ResumeStep,
    SpecialEndIn,
    SpecialStartIn,
    StartSpecialProcedure,
    StepDetail,
)
from services.gateway.steps.workbench import Workbench, WorkStep
from services.gateway.users import Role, User
from shared import topics

WorkbenchDep = NamedDependency[Workbench]
DossiersDep = NamedDependency[Dossiers]
BACK_OFFICE: tuple[Role, ...] = ("staff", "supervisor")
# Routing carried the command out: the events it published (StepClaimed, StepDecided …).
DONE = success(Carried, "已办理：审批服务发布的事件（published）")


def may_see(user: User, department: str, action: Action = Action.INBOX) -> None:
    """Staff and supervisors see their own department's work; operators see every department's."""
    access.check_department(user, action, department)


async def known_step(workbench: Workbench, hall: Gateway, step_id: str) -> WorkStep:
    step = await workbench.step(hall.redis, step_id)
    if step is None:
        raise NotFoundException(f"没有环节 {step_id}")
    return step


class StepController(Controller):
    path = "/api"
    tags = ("后台审批",)

    async def _send(
        self,
        hall: Gateway,
        workbench: Workbench,
        user: User,
        step_id: str,
        command: msgspec.Struct,
        *,
        action: Action = Action.STEP_ACT,
    ) -> Response[Any]:
        step = await known_step(workbench, hall, step_id)
        await access.check_step(hall, user, action, step, workbench=workbench)
        return await hall.send(topics.ROUTING_COMMANDS, command, step.case_id, user.actor)

    def _user(self, request: Req, hall: Gateway, action: Action = Action.STEP_ACT) -> User:
        return access.caller(hall, request, action)

    @get(
        "/departments/{department:str}/steps",
        summary="部门待办（含到期时间与时限状态）",
        description="本部门在办环节，按开始时间先后。mine=true 只列分给本人的环节；extensions=true 只列待批准延长的。"
        + PAGING_TEXT,
        **documented(*PAGED, reasons=PAGED_REASONS),
    )
    async def department_steps(
        self,
        request: Req,
        department: FromPath[str],
        hall: HallDep,
        workbench: WorkbenchDep,
        *,
        limit: LimitParam = DEFAULT_LIMIT,
        cursor: CursorParam = "",
        mine: Annotated[bool, QueryParameter(description="只列分给本人的环节（我的待办）")] = False,
        extensions: Annotated[bool, QueryParameter(description="只列待科室负责人批准的延长申请")] = False,
    ) -> InboxView:
        user = access.caller(hall, request, Action.INBOX)
        may_see(user, department)
        refuse_legacy(request.query_params)
        whose = user.id if mine else ""
        steps, found = await workbench.inbox_page(
            hall.redis, department, checked_limit(limit), cursor, assignee=whose, extensions=extensions
        )
        return InboxView(department=department, items=steps, next_cursor=found.next_cursor, total=found.total)

    @get(
        "/departments/{department:str}/escalations",
        summary="超时督办（科室负责人）",
        description="本部门的超时督办，最近的在前。" + PAGING_TEXT,
        **documented(*PAGED, reasons=PAGED_REASONS),
    )
    async def escalations(
        self,
        request: Req,
        department: FromPath[str],
        hall: HallDep,
        workbench: WorkbenchDep,
        *,
        limit: LimitParam = DEFAULT_LIMIT,
        cursor: CursorParam = "",
    ) -> EscalationsView:
        may_see(access.caller(hall, request, Action.ESCALATIONS), department, Action.ESCALATIONS)
        refuse_legacy(request.query_params)
        shown, found = await workbench.escalations_page(hall.redis, department, checked_limit(limit), cursor)
        return EscalationsView(department=department, items=shown, next_cursor=found.next_cursor, total=found.total)

    @get(
        "/steps/{step_id:str}",
        summary="环节详情与办理记录",
        description="等待变化：带上次答复的 ETag（If-None-Match）与 Prefer: wait=N（至多 30 秒），环节一有变化即答复，"
        "N 秒内无变化答 304；环节尚未生成时同样等待。",
        **documented(*WAITABLE),
    )
    async def show(
        self, request: Req, step_id: FromPath[str], hall: HallDep, workbench: WorkbenchDep, dossiers: DossiersDep
    ) -> Response[StepDetail]:
        user = access.caller(hall, request, Action.STEP_READ)

        async def detail(watch: Callable[[str], None]) -> StepDetail:
            watch(step_id)
            step = await known_step(workbench, hall, step_id)
            watch(step.case_id)
            await access.check_step(hall, user, Action.STEP_READ, step, dossiers=dossiers, workbench=workbench)
            view = await workbench.view(hall.redis, step)
            return StepDetail(step=view, records=await workbench.records(hall.redis, step_id))

        return await answer_on_change(request, hall.changes, detail)

    @post("/steps/{step_id:str}/claim", summary="认领环节", status_code=200, **documented(*COMMAND, own={200: DONE}))
    async def claim(
        self, request: Req, step_id: FromPath[str], hall: HallDep, workbench: WorkbenchDep
    ) -> Response[Any]:
        user = self._user(request, hall)
        return await self._send(hall, workbench, user, step_id, ClaimStep(step_id=step_id, department=user.department))

    @post(
        "/steps/{step_id:str}/decision",
        summary="办理环节（通过 / 退回补正 / 不予许可）",
        status_code=200,
        **documented(*COMMAND, own={200: DONE}),
    )
    async def decide(
        self,
        request: Req,
        step_id: FromPath[str],
        data: JSONBody[DecisionIn],
        hall: HallDep,
        workbench: WorkbenchDep,
    ) -> Response[Any]:
        user = self._user(request, hall)
        command = DecideStep(
            step_id=step_id,
            action=data.action,
            opinion=data.opinion,
            department=user.department,
            materials=data.materials,
            # the 决定 form sends its licence fields with every button: they count only for a grant
            licence_name=data.licence_name if data.action == "通过" else "",
            licence_no=data.licence_no if data.action == "通过" else "",
            validity=data.validity if data.action == "通过" else "",
        )
        return await self._send(hall, workbench, user, step_id, command)

    @post(
        "/steps/{step_id:str}/resume",
        summary="补正后恢复办理",
        status_code=200,
        **documented(*COMMAND, own={200: DONE}),
    )
    async def resume(
        self,
        request: Req,
        step_id: FromPath[str],
        data: JSONBody[ResumeIn],
        hall: HallDep,
        workbench: WorkbenchDep,
    ) -> Response[Any]:
        user = self._user(request, hall)
        command = ResumeStep(step_id=step_id, department=user.department, opinion=data.opinion)
        return await self._send(hall, workbench, user, step_id, command)

    @post(
        "/steps/{step_id:str}/reassign",
        summary="改派给本部门同事",
        status_code=200,
        **documented(*COMMAND, own={200: DONE}),
    )
    async def reassign(
        self,
        request: Req,
        step_id: FromPath[str],
        data: JSONBody[ReassignIn],
        hall: HallDep,
        workbench: WorkbenchDep,
    ) -> Response[Any]:
        user = self._user(request, hall)
        colleague = hall.users.get(data.to)
        if colleague is None or colleague.role not in BACK_OFFICE:
            raise HTTPException(status_code=422, detail=f"没有审批人员 {data.to}，无法改派")
        command = ReassignStep(
            step_id=step_id,
            department=user.department,
            role=user.role,
            to_id=colleague.id,
            to_name=colleague.name,
            to_department=colleague.department,
            reason=data.reason,
        )
        return await self._send(hall, workbench, user, step_id, command)

    @post(
        "/steps/{step_id:str}/special-procedure",
        summary="启动特别程序（中止计时）",
        status_code=200,
        **documented(*COMMAND, own={200: DONE}),
    )
    async def start_special(
        self,
        request: Req,
        step_id: FromPath[str],
        data: JSONBody[SpecialStartIn],
        hall: HallDep,
        workbench: WorkbenchDep,
    ) -> Response[Any]:
        user = self._user(request, hall, Action.SPECIAL)
        command = StartSpecialProcedure(step_id=step_id, department=user.department, kind=data.kind, reason=data.reason)
        return await self._send(hall, workbench, user, step_id, command, action=Action.SPECIAL)

    @post(
        "/steps/{step_id:str}/special-procedure/end",
        summary="结束特别程序（恢复计时）",
        status_code=200,
        **documented(*COMMAND, own={200: DONE}),
    )
    async def end_special(
        self,
        request: Req,
        step_id: FromPath[str],
        data: JSONBody[SpecialEndIn],
        hall: HallDep,
        workbench: WorkbenchDep,
    ) -> Response[Any]:
        user = self._user(request, hall, Action.SPECIAL)
        command = EndSpecialProcedure(step_id=step_id, department=user.department, result=data.result)
        return await self._send(hall, workbench, user, step_id, command, action=Action.SPECIAL)

    @post(
        "/steps/{step_id:str}/extension",
        summary="申请延长（须科室负责人批准）",
        status_code=200,
        **documented(*COMMAND, own={200: DONE}),
    )
    async def request_extension(
        self,
        request: Req,
        step_id: FromPath[str],
        data: JSONBody[ExtensionIn],
        hall: HallDep,
        workbench: WorkbenchDep,
    ) -> Response[Any]:
        user = self._user(request, hall, Action.SPECIAL)
        command = RequestExtension(
            step_id=step_id,
            department=user.department,
            extension=Limit(data.extension.value, data.extension.unit),
            reason=data.reason,
        )
        return await self._send(hall, workbench, user, step_id, command, action=Action.SPECIAL)

    @post(
        "/steps/{step_id:str}/extension/decision",
        summary="批准或不批准延长（科室负责人）",
        status_code=200,
        **documented(*COMMAND, own={200: DONE}),
    )
    async def decide_extension(
        self,
        request: Req,
        step_id: FromPath[str],
        data: JSONBody[ExtensionDecisionIn],
        hall: HallDep,
        workbench: WorkbenchDep,
    ) -> Response[Any]:
        # Staff are refused on the step (in routing's words), once it is known which department's supervisor decides.
        user = self._user(request, hall)
        command = DecideExtension(
            step_id=step_id, department=user.department, role=user.role, approve=data.approve, opinion=data.opinion
        )
        return await self._send(hall, workbench, user, step_id, command, action=Action.EXTENSION_DECIDE)
