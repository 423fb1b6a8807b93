"""预审 at the window: the queue of kiosk, web and mobile submissions waiting for a clerk, and the clerk's act on
each (受理, 一次告知, 不予受理), sent to intake, which owns the pre-review record (services/intake/prereview.py).

Read model keys (the gateway's own): ``prereview:{no}`` a hash (``view``: the submission as the clerk sees it, the
ID number masked; ``idhash``: the applicant's ID number as a keyed hash, for the lookup by number and ID),
``prq:{point}`` and ``prq`` the pending submissions of a point and of the county, scored by submission time (a page
of the queue is one ZRANGE: its cost does not grow with history, answered ones leave the sets).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, cast

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Template
from redis.asyncio import Redis

from services.gateway import access
from services.gateway.access import Action
from services.gateway.context import HallDep, In, Req, answer
from services.gateway.desk.dossier import Dossiers, mask, normalize_id
from services.gateway.desk.helpers import HELPERS
from services.gateway.openapi import COMMAND, Submitted, documented, success
from services.gateway.users import User
from services.gateway.views.intake import ApplicationPreSubmitted, MissingMaterial, PreReviewed
from shared import topics
from shared.envelope import Envelope
from shared.kafka import HandlerTable, Route
from shared.outbox import Txn
from shared.settings import HallSettings

PENDING = "待预审"
PAGE_SIZE = 20
Decision = Literal["受理", "一次告知", "不予受理"]


# ---------------------------------------------------------------- what a read model keeps of the checklist


class Missing(msgspec.Struct, frozen=True):
    code: str
    name: str
    reason: str


# ---------------------------------------------------------------- the command the clerk's act sends


class ReviewPreSubmission(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    prereview_no: str
    action: str
    reason: str = ""
    missing: list[str] = []


class PreReviewDecisionIn(In, frozen=True, forbid_unknown_fields=True):
    action: Annotated[
        Decision,
        msgspec.Meta(
            description="受理：按窗口规则受理（材料不全时为待补正、一次告知）；"
            "一次告知：missing 列出缺少或不合格的必备材料；不予受理：reason 写明理由，出具不予受理通知书"
        ),
    ]
    reason: Annotated[str, msgspec.Meta(description="不予受理理由（不予受理时必填），或一次告知的说明")] = ""
    missing: Annotated[list[str], msgspec.Meta(description="一次告知：缺少或不合格的必备材料编码")] = []  # noqa: RUF012


# ---------------------------------------------------------------- the read model


class PreReview(msgspec.Struct, kw_only=True):
    """A submission as the window sees it: the applicant's ID number masked."""

    prereview_no: str
    case_id: str
    item_code: str
    item_name: str
    applicant_name: str
    id_type: str
    id_masked: str
    point: str
    point_name: str
    channel: str
    submitted_by: str
    submitted_at: datetime
    materials: list[str] = []
    deferral_signed: bool = False
    commitment_signed: bool = False
    checks: list[str] = []
    missing: list[Missing] = []  # what the checklist found lacking at submission
    status: str = PENDING  # 待预审 / 受理 / 待补正 / 不予受理
    case_no: str = ""  # 受理 or 不予受理: the case number
    notice_no: str = ""  # 待补正: the 一次告知书's number
    reason: str = ""
    reviewer_name: str = ""
    reviewed_at: datetime | None = None
    notified: list[Missing] = []  # 待补正: the 一次告知 list


class PreSubmitted(msgspec.Struct, frozen=True, kw_only=True):
    """202 to a kiosk, web or mobile submission: 待预审 with its number and what a person will check (or, when intake
    answered too late, the command id: the submission is safe in Kafka)."""

    case_id: str
    outcome: Literal["待预审"] | None = None
    prereview_no: str = ""
    item_code: str = ""
    item_name: str = ""
    point_name: str = ""
    checks: list[str] = []
    missing: list[Missing] = []
    command_id: str = ""
    status: str = ""


class Queue(msgspec.Struct, frozen=True, kw_only=True):
    """One page of a clerk's 预审 queue, oldest first."""

    items: list[PreReview]
    page: int
    pages: int
    total: int


_view = msgspec.json.Decoder(PreReview)


def _missing(materials: list[MissingMaterial]) -> list[Missing]:
    return [Missing(m.code, m.name, m.reason) for m in materials]


class PreReviews:
    def __init__(self, settings: HallSettings, dossiers: Dossiers) -> None:
        self.settings = settings
        self.dossiers = dossiers

    def key(self, *parts: str) -> str:
        return self.settings.key("gateway", *parts)

    def table(self) -> HandlerTable:
        return {
            "ApplicationPreSubmitted.v1": Route(ApplicationPreSubmitted, self.submitted),
            "PreReviewed.v1": Route(PreReviewed, self.reviewed),
        }

    async def submitted(self, env: Envelope, e: ApplicationPreSubmitted, txn: Txn) -> None:
        applicant = e.application.applicant
        view = PreReview(
            prereview_no=e.prereview_no,
            case_id=env.case_id,
            item_code=e.item_code,
            item_name=e.item_name,
            applicant_name=applicant.name,
            id_type=applicant.id_type,
            id_masked=mask(normalize_id(self.dossiers.pii.unseal(applicant.id_number))),
            point=e.point,
            point_name=e.point_name,
            channel=e.channel,
            submitted_by=env.actor.name or env.actor.id,
            submitted_at=e.submitted_at,
            materials=e.application.materials,
            deferral_signed=e.application.deferral_signed,
            commitment_signed=e.application.commitment_signed,
            checks=e.checks,
            missing=_missing(e.missing),
        )
        key, score = self.key("prereview", e.prereview_no), e.submitted_at.timestamp()
        raw, idhash = msgspec.json.encode(view), self.dossiers.id_hash(applicant.id_number).encode()
        point, county, member = self.key("prq", e.point), self.key("prq"), e.prereview_no
        txn.write(lambda pipe: pipe.hset(key, mapping={"view": raw, "idhash": idhash}))
        txn.write(lambda pipe: pipe.zadd(point, {member: score}))
        txn.write(lambda pipe: pipe.zadd(county, {member: score}))

    async def reviewed(self, _env: Envelope, e: PreReviewed, txn: Txn) -> None:
        key = self.key("prereview", e.prereview_no)
        fields = await txn.hgetall(key)
        if b"view" not in fields:
            return
        view = _view.decode(fields[b"view"])
        view.status, view.case_no, view.notice_no, view.reason = e.outcome, e.case_no, e.notice_no, e.reason
        view.reviewer_name, view.reviewed_at, view.notified = e.reviewer_name, e.reviewed_at, _missing(e.missing)
        raw, member = msgspec.json.encode(view), view.prereview_no
        point, county = self.key("prq", view.point), self.key("prq")
        txn.write(lambda pipe: pipe.hset(key, "view", raw))
        txn.write(lambda pipe: pipe.zrem(point, member))
        txn.write(lambda pipe: pipe.zrem(county, member))

    async def get(self, redis: Redis, number: str) -> PreReview | None:
        raw = cast("bytes | None", await redis.hget(self.key("prereview", number.strip()), "view"))
        return _view.decode(raw) if raw else None

    async def belongs_to(self, redis: Redis, number: str, id_number: str) -> bool:
        stored = cast("bytes | None", await redis.hget(self.key("prereview", number.strip()), "idhash"))
        return stored is not None and id_number != "" and stored.decode() == self.dossiers.id_hash(id_number)

    async def queue(self, redis: Redis, point: str, page: int) -> Queue:
        """A page of the pending submissions a clerk of ``point`` sees (the banner hall: the county's)."""
        key = self.key("prq") if point == access.BANNER_HALL else self.key("prq", point)
        total = await redis.zcard(key)
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(1, page), pages)
        start = (page - 1) * PAGE_SIZE
        numbers = cast("list[bytes]", await redis.zrange(key, start, start + PAGE_SIZE - 1))
        async with redis.pipeline(transaction=False) as pipe:
            for number in numbers:
                pipe.hget(self.key("prereview", number.decode()), "view")
            raws = cast("list[bytes | None]", await pipe.execute())
        items = [_view.decode(raw) for raw in raws if raw]
        return Queue(items=items, page=page, pages=pages, total=total)


def is_prereview_number(number: str) -> bool:
    """预审编号 carry their own series (``YS``) in the case-number scheme."""
    return "YS" in number.upper()


def at_point(user: User, view: PreReview) -> bool:
    return user.point in (access.BANNER_HALL, view.point)


def check_point(user: User, view: PreReview) -> None:
    """The table's rule (``Action.PREREVIEW``: own point; the banner hall the county's)."""
    if not at_point(user, view):
        here = access.point_name(user.point) or user.point
        raise PermissionDeniedException(f"预审 {view.prereview_no} 由{view.point_name}收件，{here}的窗口人员无权预审")


PreReviewsDep = NamedDependency[PreReviews]


class PreReviewController(Controller):
    tags = ("预审",)

    @get(
        "/api/prereviews",
        summary="预审队列（本场所待预审的申请）",
        description="自助终端、网上和掌上渠道提交的申请须经窗口人员预审后方可受理。窗口人员看本场所的待预审申请"
        "（旗政务服务中心看全旗），按提交时间先后，每页 20 件（page 从 1 起）。",
        **documented(),
    )
    async def list_queue(
        self, request: Req, hall: HallDep, prereviews: PreReviewsDep, page: FromQuery[int] = 1
    ) -> Queue:
        user = access.caller(hall, request, Action.PREREVIEW)
        return await prereviews.queue(hall.redis, user.point, page)

    @get(
        "/api/prereviews/{prereview_no:str}",
        summary="一件预审申请",
        description="申请、预审要点（checks）和提交时材料清单发现的缺项（missing）；已预审的带结果（办件编号或一次告知书编号）。",
        **documented(404),
    )
    async def show(
        self, request: Req, hall: HallDep, prereviews: PreReviewsDep, prereview_no: FromPath[str]
    ) -> PreReview:
        user = access.caller(hall, request, Action.PREREVIEW)
        view = await prereviews.get(hall.redis, prereview_no)
        if view is None:
            raise NotFoundException(f"没有预审编号为 {prereview_no} 的申请")
        check_point(user, view)
        return view

    @post(
        "/api/prereviews/{prereview_no:str}/decision",
        summary="预审：受理、一次告知或不予受理",
        description="窗口人员按窗口规则办理一件待预审申请，本人为受理人（首问负责人）。"
        "受理：201 带办件编号（材料不全时 200 待补正，一次告知书编号）；一次告知：200 待补正；"
        "不予受理：422 带办件编号和通知书。已预审的 409；其他场所的 403。",
        **documented(
            *COMMAND,
            reasons={
                403: "不是本场所收件的申请",
                404: "没有该预审编号",
                409: "该申请已预审",
                422: "不予受理（带 case_no、reason），或一次告知的材料编码有误、不予受理未写理由",
            },
            own={
                200: success(Submitted, "待补正（一次告知）：缺少的材料及原因、一次告知书编号"),
                201: success(Submitted, "受理：办件编号，预审的窗口人员为首问负责人"),
            },
        ),
    )
    async def decide(
        self,
        request: Req,
        hall: HallDep,
        prereviews: PreReviewsDep,
        prereview_no: FromPath[str],
        data: JSONBody[PreReviewDecisionIn],
    ) -> Response[Any]:
        user = access.caller(hall, request, Action.PREREVIEW)
        view = await prereviews.get(hall.redis, prereview_no)
        if view is None:
            raise NotFoundException(f"没有预审编号为 {prereview_no} 的申请")
        check_point(user, view)
        command = ReviewPreSubmission(
            prereview_no=view.prereview_no, action=data.action, reason=data.reason, missing=data.missing
        )
        envelope, reply = await hall.bus.send(topics.INTAKE_COMMANDS, command, case_id=view.case_id, actor=user.actor)
        if reply is not None and not reply.ok and bytes(reply.body) != b"{}":
            body = {"status_code": reply.status, "detail": reply.reason, **msgspec.json.decode(reply.body)}
            return Response(body, status_code=reply.status)
        return answer(reply, envelope.event_id, view.case_id)

    @get("/desk/prereviews", include_in_schema=False)
    async def page(self, request: Req, hall: HallDep, prereviews: PreReviewsDep, page: FromQuery[int] = 1) -> Template:
        user = hall.users.page_user(request, "clerk")
        queue = await prereviews.queue(hall.redis, user.point, page)
        context = {"user": user, "queue": queue, "point": access.point_name(user.point), **HELPERS}
        return Template(template_name="desk/prereview.html", context=context)
