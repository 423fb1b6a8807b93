"""The cases API for window clerks and kiosks: submit, follow, deliver and rate a case."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Response, get, post
from litestar.exceptions import HTTPException
from litestar.params import FromPath, JSONBody

from services.gateway.cases.schemas import (
    ApplicationIn,
    CaseView,
    DeliveryIn,
    RatingIn,
    RecordDelivery,
    SubmitApplication,
    SubmitRating,
)
from services.gateway.cases.timeline import current_state
from services.gateway.context import HallDep, Req
from shared import topics


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
        entries = await hall.timeline.entries(hall.redis, case_id)
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
        state = current_state(await hall.timeline.entries(hall.redis, case_id))
        if state not in ("已出件", "已评价"):
            raise HTTPException(status_code=409, detail=f"办件 {case_no} 当前状态为{state}，出件后才能评价")
        command = SubmitRating(level=data.level, channel=data.channel, text=data.text)
        return await hall.send(topics.EVALUATION_COMMANDS, command, case_id, user.actor)
