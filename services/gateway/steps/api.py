"""The back-office API: a department's inbox and the decision on a step."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody

from services.gateway.context import HallDep, Req
from services.gateway.steps.schemas import DecideStep, DecisionIn, InboxView
from shared import topics


class StepController(Controller):
    path = "/api"
    tags = ("后台审批",)

    @get("/departments/{department:str}/steps", summary="部门待办")
    async def inbox(self, request: Req, department: FromPath[str], hall: HallDep) -> InboxView:
        user = hall.users.caller(request, "staff", "operator")
        if user.role == "staff" and user.department != department:
            raise HTTPException(status_code=403, detail=f"{user.department}人员不能查看{department}的待办")
        return InboxView(department=department, steps=await hall.inbox.open_steps(hall.redis, department))

    @post("/steps/{step_id:str}/decision", summary="办理环节（通过 / 不予许可）")
    async def decide(
        self, request: Req, step_id: FromPath[str], data: JSONBody[DecisionIn], hall: HallDep
    ) -> Response[Any]:
        user = hall.users.caller(request, "staff")
        step = await hall.inbox.step(hall.redis, step_id)
        if step is None:
            raise NotFoundException(f"没有环节 {step_id}")
        command = DecideStep(step_id=step_id, action=data.action, opinion=data.opinion, department=user.department)
        return await hall.send(topics.ROUTING_COMMANDS, command, step.case_id, user.actor)
