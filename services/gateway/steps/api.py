"""The back-office API: a department's inbox and the decision on a step."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody

from services.gateway.context import HallDep, Req
from services.gateway.steps.inbox import Inbox
from services.gateway.steps.schemas import DecideStep, DecisionIn, InboxView
from shared import topics

InboxDep = NamedDependency[Inbox]


class StepController(Controller):
    path = "/api"
    tags = ("后台审批",)

    @get("/departments/{department:str}/steps", summary="部门待办")
    async def department_steps(
        self, request: Req, department: FromPath[str], hall: HallDep, inbox: InboxDep
    ) -> InboxView:
        user = hall.users.caller(request, "staff", "operator")
        if user.role == "staff" and user.department != department:
            raise HTTPException(status_code=403, detail=f"{user.department}人员不能查看{department}的待办")
        return InboxView(department=department, steps=await inbox.open_steps(hall.redis, department))

    @post("/steps/{step_id:str}/decision", summary="办理环节（通过 / 不予许可）")
    async def decide(
        self, request: Req, step_id: FromPath[str], data: JSONBody[DecisionIn], hall: HallDep, inbox: InboxDep
    ) -> Response[Any]:
        user = hall.users.caller(request, "staff")
        step = await inbox.step(hall.redis, step_id)
        if step is None:
            raise NotFoundException(f"没有环节 {step_id}")
        command = DecideStep(step_id=step_id, action=data.action, opinion=data.opinion, department=user.department)
        return await hall.send(topics.ROUTING_COMMANDS, command, step.case_id, user.actor)
