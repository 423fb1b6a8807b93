"""Each case as the window sees it (受理回执, 不予受理通知书, 我的办件, kiosk lookup), from intake and timing.

Keys (the gateway's own): ``dossier:{case_id}`` a hash of facts, one field per source, so timing's events may come
before or after intake's: ``case`` (受理 or 不予受理), ``owed`` (容缺 materials still owed), ``deadline`` (the
promised completion time), ``supplement`` (the 补齐 deadline), ``suspended`` (the applicant's notice),
``child:{case_no}`` (a child's deadline), ``idhash`` (the applicant's ID number as a keyed hash), ``idsealed`` (it
sealed with AES-GCM, opened only for staff acting on the case: ``get(..., whole=True)``);
``owned:{clerk}`` the clerk's cases by time (首问负责). An agent (代理人) is kept like the applicant: masked,
sealed (``agentidsealed``) and as a keyed hash (``agentidhash``: the lookup takes the applicant's or the agent's
number). 一次告知书: ``onetime:{no}`` each notice (the missing list and reasons; ID numbers masked),
``onetime-owned:{clerk}`` the clerk's notices by time; ``intake-tally`` a hash of
``{day, month or year}|{point, or * for all}|{受理, 一次告知, 不予受理}`` counters (``intake-counts``, per day only,
is what older namespaces kept: summed into the tallies once). A deadline is kept with whether it is provisional (暂定:
a year without an official holiday schedule) and, once ``DeadlineRevised`` replaced it, the time it replaced.
Old ``ClockRefused`` records are not kept: the receipt says 计算中 until timing computes the deadline. A case number
leads to its case id through the case timeline's index, as everywhere in the gateway. The applicant's ID number
is kept masked, sealed and as a keyed hash (for the kiosk's lookup), never in plain text.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date, datetime
from typing import Any, cast

import msgspec
from redis.asyncio import Redis

from services.gateway.paging import ensure_index
from services.gateway.views import intake, timing
from shared.envelope import Envelope
from shared.kafka import HandlerTable, Route
from shared.localtime import LOCAL
from shared.outbox import Txn
from shared.pii import UnsealError, for_settings
from shared.settings import HallSettings

CASE, CHILD, SUPPLEMENT = "办件", "子件", "补齐"  # timing's clock purposes the window shows


class Deadline(msgspec.Struct, frozen=True, kw_only=True):
    """One deadline as timing last gave it (stored; older entries are a bare time)."""

    at: datetime
    provisional: bool = False
    years: list[int] = []  # the years without an official schedule it depends on
    revised_from: datetime | None = None  # the provisional time a DeadlineRevised replaced
    revised_year: int = 0


class Child(msgspec.Struct, kw_only=True):
    case_no: str
    item_name: str
    department: str
    stage: int
    stage_name: str
    promised_limit: intake.Limit
    promised_deadline: datetime | None = None
    provisional: bool = False  # 暂定
    provisional_years: list[int] = []


class Dossier(msgspec.Struct, kw_only=True):
    """What the window knows of a case: enough for its receipt or notice, 我的办件 and the kiosk."""

    case_id: str
    case_no: str
    outcome: str  # 受理 / 不予受理
    item_code: str
    item_name: str
    item_version: str = ""
    case_type: int = 2
    applicant_name: str
    id_type: str
    id_masked: str
    owner: str
    owner_name: str
    point_name: str
    point_level: int = 4
    approving_department: str = ""
    channel: str = "window"
    at: datetime  # 受理 or 不予受理 time
    reason: str = ""  # 不予受理 reason
    promised_limit: intake.Limit | None = None
    statutory_limit: intake.Limit | None = None
    materials: list[intake.Material] = []
    reused: list[intake.ReusedMaterial] = []
    deferred: bool = False
    commitment: bool = False
    supplement_limit: intake.Limit | None = None
    cross_province: bool = False
    jurisdiction: str = ""
    children: list[Child] = []
    # Filled in from later events:
    owed: list[intake.Material] = []
    promised_deadline: datetime | None = None
    # 暂定: the promised deadline rests on a year without an official holiday schedule (provisional_years).
    provisional: bool = False
    provisional_years: list[int] = []
    revised_from: datetime | None = None  # the provisional deadline the official schedule corrected
    revised_year: int = 0
    supplement_deadline: datetime | None = None
    supplement_provisional: bool = False
    suspended: str = ""  # the notice the applicant was given
    # The whole ID number: only in answers to staff who act on the case (opened at answer time), else "".
    id_number: str = ""
    # 代理人 (the applicant stays the party) and 帮办代办's helper:
    agent_name: str = ""
    agent_id_type: str = ""
    agent_id_masked: str = ""
    agent_relation: str = ""
    helper_name: str = ""
    agent_id_number: str = ""  # whole: only for staff who act on the case, like ``id_number``


class OneTimeNotice(msgspec.Struct, kw_only=True):
    """一次性告知书: an incomplete application's numbered notice, kept to be reprinted and counted."""

    notice_no: str
    case_id: str
    item_code: str
    item_name: str
    applicant_name: str
    id_type: str
    id_masked: str
    missing: list[intake.MissingMaterial]
    reused: list[intake.ReusedMaterial] = []
    owner: str
    owner_name: str
    point: str = ""
    point_name: str
    channel: str = "window"
    at: datetime
    agent_name: str = ""
    agent_id_type: str = ""
    agent_id_masked: str = ""
    agent_relation: str = ""
    helper_name: str = ""


KINDS = ("受理", "一次告知", "不予受理")  # what the window's statistics count


class IntakeCount(msgspec.Struct, kw_only=True):
    """One period's window counts (受理数, 一次告知数, 不予受理数)."""

    period: str
    accepted: int = 0
    notices: int = 0
    refused: int = 0


_dossier = msgspec.json.Decoder(Dossier)
_owed = msgspec.json.Decoder(list[intake.Material])
_deadline = msgspec.json.Decoder(Deadline | datetime)
_text = msgspec.json.Decoder(str)
_notice = msgspec.json.Decoder(OneTimeNotice)


def normalize_id(number: str) -> str:
    return re.sub(r"[\s-]", "", number).upper()


def mask(number: str) -> str:
    """150525********1237: enough to recognise on a printed notice, not enough to reuse."""
    return number[:6] + "*" * max(0, len(number) - 10) + number[-4:] if len(number) > 10 else "*" * len(number)


ALL_POINTS = "*"  # the tallies' point for every point together (全旗)


def tally_fields(day: date, point: str, kind: str) -> list[str]:
    """The counters one intake act adds to: its day, month and year, for its point and for all points."""
    periods = (day.isoformat(), day.isoformat()[:7], day.isoformat()[:4])
    return [f"{period}|{where}|{kind}" for period in periods for where in (point, ALL_POINTS)]


class Dossiers:
    def __init__(self, settings: HallSettings) -> None:
        self.settings = settings
        self._secret = hashlib.sha256(b"applicant-id:" + settings.secret.encode()).digest()
        self.pii = for_settings(settings)

    def key(self, *parts: str) -> str:
        return self.settings.key("gateway", *parts)

    def id_hash(self, number: str) -> str:
        return hmac.new(self._secret, normalize_id(self.pii.unseal(number)).encode(), hashlib.sha256).hexdigest()

    def table(self) -> HandlerTable:
        return {
            "CaseAccepted.v1": Route(intake.CaseAccepted, self.accepted),
            "CaseRefused.v1": Route(intake.CaseRefused, self.refused),
            "MaterialsSupplemented.v1": Route(intake.MaterialsSupplemented, self.supplemented),
            "CaseSuspended.v1": Route(intake.CaseSuspended, self.suspended),
            "ClockStarted.v1": Route(timing.ClockStarted, self.clock),
            "ClockResumed.v1": Route(timing.ClockResumed, self.clock),
            "ClockExtended.v1": Route(timing.ClockExtended, self.clock),
            "DeadlineRevised.v1": Route(timing.DeadlineRevised, self.revised),
            "OneTimeNoticeIssued.v1": Route(intake.OneTimeNoticeIssued, self.notice_issued),
        }

    def _put(self, txn: Txn, case_id: str, field: str, value: bytes) -> None:
        key = self.key("dossier", case_id)
        txn.write(lambda pipe: pipe.hset(key, field, value))

    def _masked(self, id_number: str) -> str:
        return mask(normalize_id(self.pii.unseal(id_number)))

    def _file(self, txn: Txn, dossier: Dossier, id_number: str, agent_id_number: str = "", point: str = "") -> None:
        self._put(txn, dossier.case_id, "case", msgspec.json.encode(dossier))
        self._put(txn, dossier.case_id, "idhash", self.id_hash(id_number).encode())
        self._put(txn, dossier.case_id, "idsealed", self.pii.seal(id_number).encode())
        if agent_id_number:
            self._put(txn, dossier.case_id, "agentidhash", self.id_hash(agent_id_number).encode())
            self._put(txn, dossier.case_id, "agentidsealed", self.pii.seal(agent_id_number).encode())
        owned, member, score = self.key("owned", dossier.owner), dossier.case_id, dossier.at.timestamp()
        txn.write(lambda pipe: pipe.zadd(owned, {member: score}))
        self._count(txn, dossier.at, point or dossier.point_name, dossier.outcome)

    def _count(self, txn: Txn, at: datetime, point: str, kind: str) -> None:
        counts, fields = self.key("intake-tally"), tally_fields(at.astimezone(LOCAL).date(), point, kind)

        def count(pipe: Any) -> None:
            for field in fields:
                pipe.hincrby(counts, field, 1)

        txn.write(count)

    def _agent(
        self,
        into: Dossier | OneTimeNotice,
        e: intake.CaseAccepted | intake.CaseRefused | intake.OneTimeNoticeIssued,
    ) -> None:
        """The agent as the window shows it: name, ID type, the number masked, the relation."""
        if e.agent_name:
            into.agent_name, into.agent_id_type, into.agent_relation = e.agent_name, e.agent_id_type, e.agent_relation
            into.agent_id_masked = self._masked(e.agent_id_number)

    async def notice_issued(self, env: Envelope, e: intake.OneTimeNoticeIssued, txn: Txn) -> None:
        """一次告知: the numbered notice kept for reprinting (ID numbers masked), the clerk's list, the count."""
        notice = OneTimeNotice(
            notice_no=e.notice_no,
            case_id=env.case_id,
            item_code=e.item_code,
            item_name=e.item_name,
            applicant_name=e.applicant_name,
            id_type=e.applicant_id_type,
            id_masked=self._masked(e.applicant_id_number),
            missing=e.missing,
            reused=e.reused,
            owner=e.owner or env.actor.id,
            owner_name=e.owner_name or env.actor.name,
            point=e.point,
            point_name=e.point_name,
            channel=e.channel,
            at=e.issued_at,
            helper_name=e.helper_name,
        )
        self._agent(notice, e)
        key = self.key("onetime", e.notice_no)
        txn.write(lambda pipe: pipe.set(key, msgspec.json.encode(notice)))
        owned, member, score = self.key("onetime-owned", notice.owner), e.notice_no, e.issued_at.timestamp()
        txn.write(lambda pipe: pipe.zadd(owned, {member: score}))
        self._count(txn, e.issued_at, e.point_name, "一次告知")

    async def accepted(self, env: Envelope, e: intake.CaseAccepted, txn: Txn) -> None:
        children = [
            Child(
                case_no=c.case_no,
                item_name=c.item_name,
                department=c.department,
                stage=c.stage,
                stage_name=c.stage_name,
                promised_limit=c.promised_limit,
            )
            for c in e.children
        ]
        dossier = Dossier(
            case_id=env.case_id,
            case_no=e.case_no,
            outcome="受理",
            item_code=e.item_code,
            item_name=e.item_name,
            item_version=e.item_version,
            case_type=e.case_type,
            applicant_name=e.applicant_name,
            id_type=e.applicant_id_type,
            id_masked=self._masked(e.applicant_id_number),
            owner=e.owner or env.actor.id,
            owner_name=e.owner_name or env.actor.name,
            point_name=e.point_name,
            point_level=e.point_level,
            approving_department=e.approving_department,
            channel=e.channel,
            at=e.accepted_at,
            promised_limit=e.promised_limit,
            statutory_limit=e.statutory_limit,
            materials=e.materials,
            reused=e.reused_materials,
            deferred=e.deferred,
            commitment=e.commitment,
            supplement_limit=e.supplement_limit,
            cross_province=e.cross_province,
            jurisdiction=e.jurisdiction,
            children=children,
            helper_name=e.helper_name,
        )
        self._agent(dossier, e)
        self._file(txn, dossier, e.applicant_id_number, e.agent_id_number)
        self._put(txn, env.case_id, "owed", msgspec.json.encode(e.owed_materials))

    async def refused(self, env: Envelope, e: intake.CaseRefused, txn: Txn) -> None:
        dossier = Dossier(
            case_id=env.case_id,
            case_no=e.case_no,
            outcome="不予受理",
            item_code=e.item_code,
            item_name=e.item_name,
            applicant_name=e.applicant_name,
            id_type=e.applicant_id_type,
            id_masked=self._masked(e.applicant_id_number),
            owner=e.owner or env.actor.id,
            owner_name=e.owner_name or env.actor.name,
            point_name=e.point_name,
            channel=e.channel,
            at=e.refused_at,
            reason=e.reason,
        )
        self._agent(dossier, e)
        self._file(txn, dossier, e.applicant_id_number, e.agent_id_number)

    async def supplemented(self, env: Envelope, e: intake.MaterialsSupplemented, txn: Txn) -> None:
        self._put(txn, env.case_id, "owed", msgspec.json.encode(e.remaining))
        if e.complete:
            self._put(txn, env.case_id, "suspended", b'""')

    async def suspended(self, env: Envelope, e: intake.CaseSuspended, txn: Txn) -> None:
        self._put(txn, env.case_id, "suspended", msgspec.json.encode(e.notice or e.reason))

    async def clock(
        self, env: Envelope, e: timing.ClockStarted | timing.ClockResumed | timing.ClockExtended, txn: Txn
    ) -> None:
        """The case's promised deadline, a child's, or the 补齐 deadline, as timing computed it."""
        field = _field(e.purpose, e.clock_id, e.step_id)
        if field:
            deadline = Deadline(at=e.promised_deadline, provisional=e.provisional, years=e.provisional_years)
            self._put(txn, env.case_id, field, msgspec.json.encode(deadline))

    async def revised(self, env: Envelope, e: timing.DeadlineRevised, txn: Txn) -> None:
        """The official schedule replaced the provisional one: a reprinted receipt shows the corrected time."""
        field = _field(e.purpose, e.clock_id, e.step_id)
        if field:
            deadline = Deadline(
                at=e.promised_deadline,
                provisional=e.provisional,
                years=e.provisional_years,
                revised_from=e.old_promised_deadline if e.old_promised_deadline != e.promised_deadline else None,
                revised_year=e.year,
            )
            self._put(txn, env.case_id, field, msgspec.json.encode(deadline))

    async def many(self, redis: Redis, case_ids: list[str]) -> list[Dossier]:
        """The dossiers of a page of cases, in order, read in one round trip (ID numbers masked)."""
        async with redis.pipeline(transaction=False) as pipe:
            for case_id in case_ids:
                pipe.hgetall(self.key("dossier", case_id))
            found = [_assemble(fields) for fields in cast("list[dict[bytes, bytes]]", await pipe.execute())]
        return [dossier for dossier in found if dossier is not None]

    async def get(self, redis: Redis, case_id: str, *, whole: bool = False) -> Dossier | None:
        """The dossier; ``whole``: with the applicant's whole ID number, for staff who act on the case."""
        fields = cast("dict[bytes, bytes]", await redis.hgetall(self.key("dossier", case_id)))
        dossier = _assemble(fields)
        if dossier is not None and whole and b"idsealed" in fields:
            try:
                dossier.id_number = self.pii.unseal(fields[b"idsealed"].decode())
            except UnsealError:
                dossier.id_number = ""  # sealed under another install secret: the masked number stays
        if dossier is not None and whole and b"agentidsealed" in fields:
            try:
                dossier.agent_id_number = self.pii.unseal(fields[b"agentidsealed"].decode())
            except UnsealError:
                dossier.agent_id_number = ""
        return dossier

    async def belongs_to(self, redis: Redis, case_id: str, id_number: str) -> bool:
        """Whether ``id_number`` is the applicant's or the agent's (keyed hashes, compared in constant time)."""
        stored = cast("list[bytes | None]", await redis.hmget(self.key("dossier", case_id), ["idhash", "agentidhash"]))
        wanted = self.id_hash(id_number)
        found = [hmac.compare_digest(h.decode(), wanted) for h in stored if h is not None]
        return any(found)

    async def notice(self, redis: Redis, notice_no: str) -> OneTimeNotice | None:
        raw = cast("bytes | None", await redis.get(self.key("onetime", notice_no)))
        return _notice.decode(raw) if raw is not None else None

    async def notices(self, redis: Redis, owner: str, limit: int = 100) -> list[OneTimeNotice]:
        """The clerk's 一次告知书, newest first."""
        numbers = cast("list[bytes]", await redis.zrevrange(self.key("onetime-owned", owner), 0, limit - 1))
        if not numbers:
            return []
        raws = cast("list[bytes | None]", await redis.mget([self.key("onetime", n.decode()) for n in numbers]))
        return [_notice.decode(raw) for raw in raws if raw is not None]

    async def counts(self, redis: Redis, today: date, point_name: str = "") -> list[IntakeCount]:
        """受理数, 一次告知数 and 不予受理数 today, this month and this year, of one point (by name) or all: nine
        counters (``intake-tally``: per day, month and year, per point and for all), whatever the history."""
        await ensure_index(redis, self.key("built-index", "intake-tally"), lambda: self._tally_from_days(redis))
        periods = (("今日", today.isoformat()), ("本月", today.isoformat()[:7]), ("本年", today.isoformat()[:4]))
        point, kinds = point_name or ALL_POINTS, ("受理", "一次告知", "不予受理")
        fields = [f"{period}|{point}|{kind}" for _, period in periods for kind in kinds]
        raw = cast("list[bytes | None]", await redis.hmget(self.key("intake-tally"), fields))
        values = [int(v) if v is not None else 0 for v in raw]
        return [
            IntakeCount(period=label, accepted=values[3 * n], notices=values[3 * n + 1], refused=values[3 * n + 2])
            for n, (label, _) in enumerate(periods)
        ]

    async def _tally_from_days(self, redis: Redis) -> None:
        """A namespace kept before the tallies: sum its per-day counts (``intake-counts``) into them, once."""
        raw = cast("dict[bytes, bytes]", await redis.hgetall(self.key("intake-counts")))
        tally: dict[str, int] = {}
        for field, value in raw.items():
            day, point, kind = field.decode().split("|", 2)
            for counted in tally_fields(date.fromisoformat(day), point, kind):
                tally[counted] = tally.get(counted, 0) + int(value)
        if tally:
            await redis.hset(self.key("intake-tally"), mapping=cast("Any", tally))

    async def owned(self, redis: Redis, owner: str, limit: int = 100) -> list[Dossier]:
        """The clerk's cases (首问负责), newest first."""
        ids = cast("list[bytes]", await redis.zrevrange(self.key("owned", owner), 0, limit - 1))
        pipe = redis.pipeline(transaction=False)
        for case_id in ids:
            pipe.hgetall(self.key("dossier", case_id.decode()))
        found = [_assemble(cast("dict[bytes, bytes]", fields)) for fields in await pipe.execute()]
        return [d for d in found if d is not None]


def _field(purpose: str, clock_id: str, step_id: str) -> str:
    """Which of the dossier's fields a clock fills: a step's clock and evaluation's clocks are not the window's."""
    if step_id:
        return ""
    if purpose == SUPPLEMENT:
        return "supplement"
    if purpose == CHILD:
        return f"child:{clock_id}"
    return "deadline" if purpose in (CASE, "") else ""


def _read(raw: bytes) -> Deadline:
    found = _deadline.decode(raw)
    return found if isinstance(found, Deadline) else Deadline(at=found)


def _assemble(fields: dict[bytes, bytes]) -> Dossier | None:
    if b"case" not in fields:
        return None
    dossier = _dossier.decode(fields[b"case"])
    if b"owed" in fields:
        dossier.owed = _owed.decode(fields[b"owed"])
    if b"deadline" in fields:
        d = _read(fields[b"deadline"])
        dossier.promised_deadline, dossier.provisional, dossier.provisional_years = d.at, d.provisional, d.years
        dossier.revised_from, dossier.revised_year = d.revised_from, d.revised_year
    if b"supplement" in fields:
        d = _read(fields[b"supplement"])
        dossier.supplement_deadline, dossier.supplement_provisional = d.at, d.provisional
    if b"suspended" in fields:
        dossier.suspended = _text.decode(fields[b"suspended"])
    for child in dossier.children:
        raw = fields.get(f"child:{child.case_no}".encode())
        if raw is not None:
            d = _read(raw)
            child.promised_deadline, child.provisional, child.provisional_years = d.at, d.provisional, d.years
    return dossier
