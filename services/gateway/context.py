"""What every HTTP handler of the gateway gets: settings, the command bus, users and read models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException
from redis.asyncio import Redis

from services.gateway.bus import CommandBus
from services.gateway.changes import Changes
from services.gateway.text import check_struct
from services.gateway.users import Directory
from shared.envelope import Actor
from shared.kafka import ServiceRuntime
from shared.replies import Reply
from shared.settings import HallSettings

if TYPE_CHECKING:  # the timeline's package imports this module
    from services.gateway.cases.timeline import Timeline

Req = Request[Any, Any, Any]


class In(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every request body: unknown fields are refused with a 400 that names them; hidden characters in
    text and non-finite numbers with a 422 that names them (services/gateway/text.py)."""

    def __post_init__(self) -> None:
        check_struct(self)


class Pending(msgspec.Struct, frozen=True, kw_only=True):
    """202: the command is safely in Kafka and will be carried out; the answer came too late to wait for."""

    command_id: str
    case_id: str
    status: str = "处理中"


class Gateway:
    """Everything the handlers need, built once in the composition root.

    A plain class on purpose: handlers receive it as a dependency, which must not be converted field by field.
    """

    def __init__(
        self, *, settings: HallSettings, bus: CommandBus, users: Directory, runtime: ServiceRuntime, timeline: Timeline
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.users = users
        self.runtime = runtime
        self.timeline = timeline
        self.changes = Changes()  # which cases and steps the read models just changed: waiting answers wake

    @property
    def redis(self) -> Redis:
        """The gateway's Redis client, connected when the app starts."""
        return self.runtime.redis

    async def case_id(self, case_no: str) -> str:
        case_id = await self.timeline.case_id(self.redis, case_no)
        if case_id is None:
            raise NotFoundException(f"没有办件编号为 {case_no} 的办件")
        return case_id

    async def send(
        self, topic: str, command: msgspec.Struct, case_id: str, actor: Actor, event_id: str | None = None
    ) -> Response[Any]:
        """Publish a command and answer with the owning service's reply (202 when it is late)."""
        envelope, reply = await self.bus.send(topic, command, case_id=case_id, actor=actor, event_id=event_id)
        return answer(reply, envelope.event_id, case_id)


def answer(reply: Reply | None, command_id: str, case_id: str) -> Response[Any]:
    if reply is None:
        return Response(Pending(command_id=command_id, case_id=case_id), status_code=202)
    if not reply.ok:
        raise HTTPException(status_code=reply.status, detail=reply.reason)
    return Response(msgspec.json.decode(reply.body), status_code=reply.status)


HallDep = NamedDependency[Gateway]
