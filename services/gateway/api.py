"""The REST API for clerks, back-office staff and kiosks: commands go to Kafka, queries to read models."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody
from redis.asyncio import Redis

from services.gateway.commands import CommandBus
from services.gateway.readmodel import ReadModel, current_state
from services.gateway.schemas import (
    ApplicationIn,
    CaseView,
    DecideStep,
    DecisionIn,
    DeliveryIn,
    InboxView,
    Pending,
    RatingIn,
    RecordDelivery,
    SubmitApplication,
    SubmitRating,
)
from services.gateway.users import Directory
from shared import topics
from shared.envelope import Actor
from shared.kafka import ServiceRuntime
from shared.replies import Reply
from shared.settings import HallSettings

Req = Request[Any, Any, Any]


class Gateway(msgspec.Struct, frozen=True):
    """Everything the handlers need, built once in the composition root."""

    settings: HallSettings
    bus: CommandBus
    reads: ReadModel
    users: Directory
    runtime: ServiceRuntime

    @property
    def redis(self) -> Redis:
        """The gateway's Redis client, connected when the app starts."""
        return self.runtime.redis

    def answer(self, reply: Reply | None, command_id: str, case_id: str) -> Response[Any]:
        if reply is None:
            return Response(Pending(command_id=command_id, case_id=case_id), status_code=202)
        if not reply.ok:
            raise HTTPException(status_code=reply.status, detail=reply.reason)
        return Response(msgspec.json.decode(reply.body), status_code=reply.status)

    async def case_id(self, case_no: str) -> str:
        case_id = await self.reads.case_id(self.redis, case_no)
        if case_id is None:
            raise NotFoundException(f"没有办件编号为 {case_no} 的办件")
        return case_id

    async def send(
        self, topic: str, command: msgspec.Struct, case_id: str, actor: Actor, event_id: str | None = None
    ) -> Response[Any]:
        envelope, reply = await self.bus.send(topic, command, case_id=case_id, actor=actor, event_id=event_id)
        return self.answer(reply, envelope.event_id, case_id)


HallDep = NamedDependency[Gateway]


class CaseController(Controller):
    path = "/api/cases"
    tags = ("办件",)

    @post("/", summary="申报并受理（一窗受理）")
    async def submit(self, request: Req, data: JSONBody[ApplicationIn], hall: HallDep) -> Response[Any]:
        user = hall.users.caller(request, "clerk", "kiosk")
        key = request.headers.get("idempotency-key")
        # A retried request with the same key becomes the same command: intake answers it once.
        seed = f"{hall.settings.namespace}:{user.id}:{key}" if key else None
        event_id = uuid.uuid5(uuid.NAMESPACE_URL, seed).hex if seed else None
        case_id = uuid.uuid5(uuid.NAMESPACE_OID, seed).hex if seed else uuid.uuid4().hex
        command = SubmitApplication(
            item_code=data.item_code, applicant=data.applicant, materials=data.materials, channel=data.channel
        )
        return await hall.send(topics.INTAKE_COMMANDS, command, case_id, user.actor, event_id)

    @get("/{case_no:str}", summary="办件进度与全程时间线")
    async def show(self, case_no: FromPath[str], hall: HallDep) -> CaseView:
        case_id = await hall.case_id(case_no)
        entries = await hall.reads.timeline(hall.redis, case_id)
        return CaseView(case_id=case_id, case_no=case_no, state=current_state(entries), timeline=entries)

    @post("/{case_no:str}/delivery", summary="统一窗口出件")
    async def deliver(
        self, request: Req, case_no: FromPath[str], data: JSONBody[DeliveryIn], hall: HallDep
    ) -> Response[Any]:
        user = hall.users.caller(request, "clerk")
        case_id = await hall.case_id(case_no)
        return await hall.send(topics.ROUTING_COMMANDS, RecordDelivery(method=data.method), case_id, user.actor)

    @post("/{case_no:str}/ratings", summary="好差评")
    async def rate(
        self, request: Req, case_no: FromPath[str], data: JSONBody[RatingIn], hall: HallDep
    ) -> Response[Any]:
        user = hall.users.caller(request, "kiosk", "clerk")
        case_id = await hall.case_id(case_no)
        state = current_state(await hall.reads.timeline(hall.redis, case_id))
        if state not in ("已出件", "已评价"):
            raise HTTPException(status_code=409, detail=f"办件 {case_no} 当前状态为{state}，出件后才能评价")
        command = SubmitRating(level=data.level, channel=data.channel, text=data.text)
        return await hall.send(topics.EVALUATION_COMMANDS, command, case_id, user.actor)


class StepController(Controller):
    path = "/api"
    tags = ("后台审批",)

    @get("/departments/{department:str}/steps", summary="部门待办")
    async def inbox(self, request: Req, department: FromPath[str], hall: HallDep) -> InboxView:
        user = hall.users.caller(request, "staff", "operator")
        if user.role == "staff" and user.department != department:
            raise HTTPException(status_code=403, detail=f"{user.department}人员不能查看{department}的待办")
        return InboxView(department=department, steps=await hall.reads.inbox(hall.redis, department))

    @post("/steps/{step_id:str}/decision", summary="办理环节（通过 / 不予许可）")
    async def decide(
        self, request: Req, step_id: FromPath[str], data: JSONBody[DecisionIn], hall: HallDep
    ) -> Response[Any]:
        user = hall.users.caller(request, "staff")
        step = await hall.reads.step(hall.redis, step_id)
        if step is None:
            raise NotFoundException(f"没有环节 {step_id}")
        command = DecideStep(step_id=step_id, action=data.action, opinion=data.opinion, department=user.department)
        return await hall.send(topics.ROUTING_COMMANDS, command, step.case_id, user.actor)
