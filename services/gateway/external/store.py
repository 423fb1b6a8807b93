"""跨省通办 cases as the desk and the operators see them: received here, sent, received there, decided.

Keys (the gateway's own, rebuilt from the events topics like its other read models): ``external:case:{case_id}``
the case (``CrossCase``), ``external:cases`` every 跨省 case by acceptance time (the paginated list), and
``external:ref:{jurisdiction}:{reference}`` the answer given to the other platform's message with that
reference (a replay is answered the same, and changes nothing).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal, cast

import msgspec
from redis.asyncio import Redis

from services.gateway.views import external, intake, routing, timing
from shared.envelope import Envelope
from shared.kafka import HandlerTable, Route
from shared.outbox import Txn
from shared.settings import HallSettings

RECEIPT = "待对方接收"  # routing's clock on the other jurisdiction's receipt (services/routing/external.py)
Status = Literal["待移交", "已移交", "已接收", "已办结"]


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    level: str
    deadline: datetime | None
    at: datetime


class CrossCase(msgspec.Struct, kw_only=True):
    case_id: str
    case_no: str
    item_code: str = ""
    item_name: str = ""
    items: list[str] = []  # a 一件事 handed over as one
    applicant_name: str = ""
    department: str = ""
    point_name: str = ""
    jurisdiction: str = ""
    accepted_at: datetime | None = None
    materials: list[intake.Material] = []
    status: Status = "待移交"
    method: str = ""
    tracking_no: str = ""
    handed_over_at: datetime | None = None
    receipt_deadline: datetime | None = None
    alerts: list[Alert] = []  # the receipt clock's 预警 / 逾期: no receipt in time
    external_case_no: str = ""
    received_at: datetime | None = None
    receiver: str = ""
    result: str = ""
    opinion: str = ""
    licence: str = ""
    decided_at: datetime | None = None
    completed_at: datetime | None = None

    @property
    def overdue_receipt(self) -> bool:
        return self.status == "已移交" and bool(self.alerts)


class Recorded(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to the other platform's message (or an operator's entry): the same for every replay of it."""

    reference: str
    case_no: str
    kind: str
    event_id: str
    fingerprint: str
    status: str = "已记录"


_case = msgspec.json.Decoder(CrossCase)
_recorded = msgspec.json.Decoder(Recorded)


def fingerprint(event: external.HandoverReceived | external.ExternalResult) -> str:
    """What the message says, so a replay with other content under the same reference is told apart (409)."""
    if isinstance(event, external.HandoverReceived):
        what = ["接收", event.case_no, event.external_case_no]
    else:
        what = ["结果", event.case_no, event.result, event.opinion, event.licence_name, event.licence_no]
    return hashlib.sha256("\x1f".join(what).encode()).hexdigest()[:32]


class CrossCases:
    def __init__(self, settings: HallSettings) -> None:
        self.settings = settings

    def key(self, *parts: str) -> str:
        return self.settings.key("gateway", "external", *parts)

    def ref_key(self, jurisdiction: str, reference: str) -> str:
        return self.key("ref", jurisdiction, reference)

    def table(self) -> HandlerTable:
        return {
            "CaseAccepted.v1": Route(intake.CaseAccepted, self.accepted),
            "HandedOver.v1": Route(routing.HandedOver, self.handed_over),
            "HandoverReceived.v1": Route(external.HandoverReceived, self.received),
            "ExternalResult.v1": Route(external.ExternalResult, self.decided),
            "ClockStarted.v1": Route(timing.ClockStarted, self.clock_started),
            "ClockAlerted.v1": Route(timing.ClockAlerted, self.alerted),
            "CaseCompleted.v1": Route(routing.CaseCompleted, self.completed),
        }

    # ------------------------------------------------------------ reading

    async def get(self, redis: Redis, case_id: str) -> CrossCase | None:
        raw = cast("bytes | None", await redis.get(self.key("case", case_id)))
        return None if raw is None else _case.decode(raw)

    async def page(self, redis: Redis, page: int, size: int) -> tuple[list[CrossCase], int]:
        """One page of every 跨省 case, newest first, and how many there are."""
        index = self.key("cases")
        total = int(await redis.zcard(index))
        if (page - 1) * size >= total:
            return [], total  # past the end (a page number of any size is valid, and shows nothing)
        ids = cast("list[bytes]", await redis.zrevrange(index, (page - 1) * size, page * size - 1))
        found = [await self.get(redis, i.decode()) for i in ids]
        return [c for c in found if c is not None], total

    async def recorded(self, redis: Redis, jurisdiction: str, reference: str) -> Recorded | None:
        raw = cast("bytes | None", await redis.get(self.ref_key(jurisdiction, reference)))
        return None if raw is None else _recorded.decode(raw)

    async def remember(self, redis: Redis, jurisdiction: str, answer: Recorded) -> None:
        await redis.set(self.ref_key(jurisdiction, answer.reference), msgspec.json.encode(answer), nx=True)

    # ------------------------------------------------------------ the projection

    async def _load(self, txn: Txn, case_id: str) -> CrossCase | None:
        raw = await txn.get(self.key("case", case_id))
        return None if raw is None else _case.decode(raw)

    def _save(self, txn: Txn, case: CrossCase) -> None:
        txn.set(self.key("case", case.case_id), case)

    async def accepted(self, env: Envelope, event: intake.CaseAccepted, txn: Txn) -> None:
        if not event.cross_province:
            return
        case = await self._load(txn, env.case_id) or CrossCase(case_id=env.case_id, case_no=event.case_no)
        case.item_code, case.item_name, case.applicant_name = event.item_code, event.item_name, event.applicant_name
        case.items = [c.item_name for c in event.children]
        case.department, case.point_name = event.approving_department, event.point_name
        case.jurisdiction, case.accepted_at, case.materials = event.jurisdiction, event.accepted_at, event.materials
        self._save(txn, case)
        index, member, score = self.key("cases"), env.case_id, event.accepted_at.timestamp()
        txn.write(lambda pipe: pipe.zadd(index, {member: score}))

    async def handed_over(self, env: Envelope, event: routing.HandedOver, txn: Txn) -> None:
        case = await self._load(txn, env.case_id) or CrossCase(case_id=env.case_id, case_no=event.case_no)
        if case.handed_over_at is not None:
            return
        case.jurisdiction = event.jurisdiction or case.jurisdiction
        case.method, case.tracking_no, case.handed_over_at = event.method, event.tracking_no, event.handed_over_at
        if case.status == "待移交":
            case.status = "已移交"
        self._save(txn, case)

    def _reference(
        self, txn: Txn, env: Envelope, event: external.HandoverReceived | external.ExternalResult, kind: str
    ) -> None:
        if not event.reference:
            return
        answer = Recorded(
            reference=event.reference,
            case_no=event.case_no,
            kind=kind,
            event_id=env.event_id,
            fingerprint=fingerprint(event),
        )
        key, value = self.ref_key(event.jurisdiction, event.reference), msgspec.json.encode(answer)
        txn.write(lambda pipe: pipe.set(key, value, nx=True))

    async def received(self, env: Envelope, event: external.HandoverReceived, txn: Txn) -> None:
        self._reference(txn, env, event, "接收")
        case = await self._load(txn, env.case_id)
        if case is None or case.received_at is not None:
            return
        case.external_case_no, case.received_at, case.receiver = (
            event.external_case_no,
            event.received_at,
            (event.receiver or env.actor.name),
        )
        if case.status in ("待移交", "已移交"):
            case.status = "已接收"
        self._save(txn, case)

    async def decided(self, env: Envelope, event: external.ExternalResult, txn: Txn) -> None:
        self._reference(txn, env, event, "结果")
        case = await self._load(txn, env.case_id)
        if case is None or case.decided_at is not None:
            return
        case.result, case.opinion, case.decided_at = event.result, event.opinion, event.decided_at
        case.licence = " ".join(x for x in (event.licence_name, event.licence_no) if x)
        if case.received_at is None:
            case.received_at = event.decided_at
        self._save(txn, case)

    async def clock_started(self, env: Envelope, event: timing.ClockStarted, txn: Txn) -> None:
        if event.purpose != RECEIPT:
            return
        case = await self._load(txn, env.case_id)
        if case is not None and case.receipt_deadline is None:
            case.receipt_deadline = event.promised_deadline
            self._save(txn, case)

    async def alerted(self, env: Envelope, event: timing.ClockAlerted, txn: Txn) -> None:
        if event.purpose != RECEIPT:
            return
        case = await self._load(txn, env.case_id)
        if case is None or any(a.level == event.level for a in case.alerts):
            return
        case.alerts = [*case.alerts, Alert(level=event.level, deadline=event.deadline, at=event.fired_at)]
        self._save(txn, case)

    async def completed(self, env: Envelope, event: routing.CaseCompleted, txn: Txn) -> None:
        case = await self._load(txn, env.case_id)
        if case is None or case.completed_at is not None:
            return
        case.status, case.completed_at = "已办结", event.completed_at
        case.result = case.result or event.result
        self._save(txn, case)
