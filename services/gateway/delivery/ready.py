"""统一窗口出件: the cases whose result waits at the window, with what 容缺 materials are still owed.

Keys (the gateway's own): ``delivery:{case_id}`` a hash with the case, its owed materials (``owed:{code}``),
its completion, every item's (bundle child's) own result with its licence (``items``) and its delivery, each
written by the event that brings it (in any order across topics); ``deliveries:ready`` the ids of completed
cases not yet delivered, and for its pages (services/gateway/paging.py) the same as sorted sets scored by the
time of 办结: ``deliveries:readyz`` the county's and ``deliveries:readyz:{point name}`` each point's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, cast

import msgspec
from redis.asyncio import Redis

from services.gateway.paging import Slice, ensure_index, zpage
from services.gateway.views import intake, routing
from shared.envelope import Actor, Envelope
from shared.kafka import HandlerTable, Route
from shared.outbox import Txn, Write
from shared.pii import for_settings
from shared.settings import HallSettings

OWED = "owed:"


class Accepted(msgspec.Struct, frozen=True, kw_only=True):
    case_no: str
    item_name: str
    applicant_name: str
    point_name: str = ""  # the accepting point (records kept before 2026-11-30 lack it: the dossier has it)


class Completed(msgspec.Struct, frozen=True, kw_only=True):
    result: str
    reasons: list[str]
    at: datetime


class Delivered(msgspec.Struct, frozen=True, kw_only=True):
    method: str
    address: str
    at: datetime
    by: Actor


ItemResult = routing.ItemResult
_items = msgspec.json.Decoder(list[ItemResult])


class Owed(msgspec.Struct, frozen=True):
    code: str
    name: str


class CaseAtWindow(msgspec.Struct, frozen=True, kw_only=True):
    case_id: str
    case_no: str
    item_name: str
    applicant_name: str
    result: str
    reasons: list[str]
    completed_at: datetime | None
    owed: list[Owed]
    deliverable: bool
    refusal: str
    delivered: Delivered | None = None
    items: list[ItemResult] = []  # every item's (child's) own result and licence

    @property
    def bundle(self) -> bool:
        """A 一件事: its children have case numbers of their own."""
        return any(i.case_no != self.case_no for i in self.items)


def at_window(case_id: str, fields: dict[bytes, bytes]) -> CaseAtWindow | None:
    if b"case" not in fields:
        return None
    case = msgspec.json.decode(fields[b"case"], type=Accepted)
    done = msgspec.json.decode(fields[b"completed"], type=Completed) if b"completed" in fields else None
    delivered = msgspec.json.decode(fields[b"delivered"], type=Delivered) if b"delivered" in fields else None
    owed = sorted(
        (Owed(k.decode().removeprefix(OWED), v.decode()) for k, v in fields.items() if k.startswith(OWED.encode())),
        key=lambda m: m.code,
    )
    result = done.result if done else ""
    # A grant waits until every 容缺 material is in; a refusal is handed out with its reasons all the same.
    withheld = bool(owed) and result == "准予"
    names = "、".join(m.name or m.code for m in owed)
    refusal = f"容缺受理的材料尚未补齐（{names}），补齐后才能出件" if withheld else ""
    return CaseAtWindow(
        case_id=case_id,
        case_no=case.case_no,
        item_name=case.item_name,
        applicant_name=case.applicant_name,
        result=result,
        reasons=done.reasons if done else [],
        completed_at=done.at if done else None,
        owed=owed,
        deliverable=done is not None and delivered is None and not withheld,
        refusal=refusal,
        delivered=delivered,
        items=_items.decode(fields[b"items"]) if b"items" in fields else [],
    )


class Deliveries:
    def __init__(self, settings: HallSettings) -> None:
        self.settings = settings

    def key(self, *parts: str) -> str:
        return self.settings.key("gateway", *parts)

    def table(self) -> HandlerTable:
        return {
            "CaseAccepted.v1": Route(intake.CaseAccepted, self.case_accepted),
            "MaterialsSupplemented.v1": Route(intake.MaterialsSupplemented, self.supplemented),
            "CaseCompleted.v1": Route(routing.CaseCompleted, self.case_completed),
            "CaseDelivered.v1": Route(routing.CaseDelivered, self.case_delivered),
        }

    async def case_accepted(self, env: Envelope, event: intake.CaseAccepted, txn: Txn) -> None:
        key = self.key("delivery", env.case_id)
        accepted = Accepted(
            case_no=event.case_no,
            item_name=event.item_name,
            applicant_name=event.applicant_name,
            point_name=event.point_name,
        )
        case = msgspec.json.encode(accepted)
        txn.write(lambda pipe: pipe.hsetnx(key, "case", case))
        for material in event.owed_materials:
            txn.write(self._owe(key, material))
        fields = await txn.hgetall(key)
        if b"completed" in fields and b"delivered" not in fields:  # 办结 came first (another topic)
            done = msgspec.json.decode(fields[b"completed"], type=Completed)
            txn.write(self.place(env.case_id, event.point_name, done.at.timestamp(), ready=True))

    @staticmethod
    def _owe(key: str, material: intake.Material) -> Write:
        field, name = f"{OWED}{material.code}", material.name
        return lambda pipe: pipe.hset(key, field, name)

    async def supplemented(self, env: Envelope, event: intake.MaterialsSupplemented, txn: Txn) -> None:
        key = self.key("delivery", env.case_id)
        fields = await txn.hgetall(key)
        brought = {m.code for m in event.materials}
        gone = [
            k for k in fields if k.startswith(OWED.encode()) and (event.complete or k.decode()[len(OWED) :] in brought)
        ]
        if gone:
            txn.write(lambda pipe: pipe.hdel(key, *gone))

    async def case_completed(self, env: Envelope, event: routing.CaseCompleted, txn: Txn) -> None:
        key, ready, case_id = self.key("delivery", env.case_id), self.key("deliveries", "ready"), env.case_id
        done = msgspec.json.encode(Completed(result=event.result, reasons=event.reasons, at=event.completed_at))
        txn.write(lambda pipe: pipe.hset(key, "completed", done))
        txn.write(lambda pipe: pipe.sadd(ready, case_id))
        point = await self._point(txn, key)
        txn.write(self.place(case_id, point, event.completed_at.timestamp(), ready=True))
        if event.items:
            txn.write(self._items(key, event.items))

    async def case_delivered(self, env: Envelope, event: routing.CaseDelivered, txn: Txn) -> None:
        key, ready, case_id = self.key("delivery", env.case_id), self.key("deliveries", "ready"), env.case_id
        delivered = msgspec.json.encode(
            Delivered(method=event.method, address=event.address, at=event.delivered_at, by=env.actor)
        )
        txn.write(lambda pipe: pipe.hset(key, "delivered", delivered))
        txn.write(lambda pipe: pipe.srem(ready, case_id))
        txn.write(self.place(case_id, await self._point(txn, key), 0.0, ready=False))
        if event.items:  # the results as handed out (the same as at 办结)
            txn.write(self._items(key, event.items))

    @staticmethod
    async def _point(txn: Txn, key: str) -> str:
        fields = await txn.hgetall(key)
        return msgspec.json.decode(fields[b"case"], type=Accepted).point_name if b"case" in fields else ""

    def place(self, case_id: str, point: str, score: float, *, ready: bool) -> Write:
        """The case's place in the county's pick-up list and its point's (``ready``), or out of both."""
        county, own = self.key("deliveries", "readyz"), self.key("deliveries", "readyz", point) if point else ""

        def write(pipe: Any) -> None:
            for key in (county, own):
                if key:
                    pipe.zadd(key, {case_id: score}) if ready else pipe.zrem(key, case_id)

        return write

    @staticmethod
    def _items(key: str, items: list[ItemResult]) -> Write:
        encoded = msgspec.json.encode(items)
        return lambda pipe: pipe.hset(key, "items", encoded)

    async def case(self, redis: Redis, case_id: str) -> CaseAtWindow | None:
        fields = cast("dict[bytes, bytes]", await redis.hgetall(self.key("delivery", case_id)))
        found = at_window(case_id, fields)
        if found is not None and found.delivered is not None and found.delivered.address:
            # The postal address is kept sealed (shared.pii) and opened for the window's staff only here.
            address = for_settings(self.settings).unseal(found.delivered.address)
            found = msgspec.structs.replace(found, delivered=msgspec.structs.replace(found.delivered, address=address))
        return found

    async def ready_page(
        self, redis: Redis, point: str, limit: int, cursor: str = ""
    ) -> tuple[list[CaseAtWindow], Slice]:
        """A page of the cases ready for pick-up, oldest 办结 first: the county's (``point`` ""), or one point's."""
        key = self.key("deliveries", "readyz", point) if point else self.key("deliveries", "readyz")
        found = await zpage(redis, key, limit, cursor)
        cases = [await self.case(redis, case_id) for case_id in found.ids]
        return [c for c in cases if c is not None], found

    async def ensure_index(self, redis: Redis, point_of: Callable[[str], Awaitable[str]]) -> None:
        """A namespace kept before the sorted sets existed: build them once from ``deliveries:ready`` (a case
        accepted before its record named its point takes it from ``point_of``, the dossier)."""

        async def build() -> None:
            ids = [i.decode() for i in cast("set[bytes]", await redis.smembers(self.key("deliveries", "ready")))]
            async with redis.pipeline(transaction=False) as pipe:
                for case_id in ids:
                    fields = cast("dict[bytes, bytes]", await redis.hgetall(self.key("delivery", case_id)))
                    if b"case" not in fields or b"completed" not in fields or b"delivered" in fields:
                        continue
                    point = msgspec.json.decode(fields[b"case"], type=Accepted).point_name or await point_of(case_id)
                    at = msgspec.json.decode(fields[b"completed"], type=Completed).at.timestamp()
                    self.place(case_id, point, at, ready=True)(pipe)
                await pipe.execute()

        await ensure_index(redis, self.key("built-index", "deliveries"), build)
