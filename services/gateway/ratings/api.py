"""The ratings API: rate a case (kiosk, window pad, 12345 call, rating link), issue rating links, follow a case's
ratings. Evaluation decides every rating and refuses with the reason; the gateway names who rates."""

from __future__ import annotations

from typing import Any

import msgspec
import segno
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody

from services.gateway import access
from services.gateway.access import Action
from services.gateway.context import Gateway, HallDep, Pending, Req
from services.gateway.desk.dossier import Dossiers
from services.gateway.limits import WRONG_TAIL, check_id_attempts, id_check_failed
from services.gateway.openapi import COMMAND, Recorded, documented, success
from services.gateway.ratings.book import RatingBook, Served
from services.gateway.ratings.links import peek, rating_url
from services.gateway.ratings.schemas import (
    CaseRatings,
    IssueRatingLink,
    LinkIn,
    LinkOut,
    LinkRatingIn,
    PadRatingIn,
    PadView,
    RateCorrection,
    RatingIn,
    SubmitRating,
)
from services.gateway.steps.workbench import Workbench
from services.gateway.users import User
from services.gateway.views.evaluation import FollowUp
from shared import topics
from shared.envelope import Actor
from shared.rating_policy import RatingPolicy

RatingBookDep = NamedDependency[RatingBook]
DossiersDep = NamedDependency[Dossiers]
WorkbenchDep = NamedDependency[Workbench]
RatingConfigDep = NamedDependency[RatingPolicy]
# Whoever opens a rating link: the token is their credential, the signature is evaluation's to check.
LINK_RATER = Actor(kind="applicant", id="rating-link", name="评价人")
RATED = success(Recorded, "已评价：评价编号；差评时另有差评整改编号（followup_id）")
LINKED = success(LinkOut, "评价链接：网址（url）及其二维码（qr_svg，内嵌 SVG）")


async def issue_link(hall: Gateway, _request: Req, case_id: str, user: User, command: IssueRatingLink) -> Response[Any]:
    """Ask evaluation for a signed link and answer with the URL to send by SMS or print as a QR code."""
    envelope, reply = await hall.bus.send(topics.EVALUATION_COMMANDS, command, case_id=case_id, actor=user.actor)
    if reply is None:
        return Response(Pending(command_id=envelope.event_id, case_id=case_id), status_code=202)
    if not reply.ok:
        raise HTTPException(status_code=reply.status, detail=reply.reason)
    link = msgspec.json.decode(reply.body, type=dict[str, str])
    url = rating_url(hall.settings, link["token"])
    return Response(
        LinkOut(
            token=link["token"],
            url=url,
            qr_svg=segno.make(url, error="m").svg_inline(scale=4, title="扫码评价"),
            case_no=link["case_no"],
            stage=link["stage"],
            purpose=link["purpose"],
            channel=link["channel"],
        ),
        status_code=201,
    )


async def pad_view(hall: Gateway, book: RatingBook, config: RatingPolicy, pad: User) -> PadView:
    clerk_id = config.pads.get(pad.id, "")
    clerk = hall.users.get(clerk_id)
    served: Served | None = await book.served(hall.redis, clerk_id) if clerk_id else None
    rated = False
    if served is not None:
        ratings = await book.ratings(hall.redis, served.case_id)
        rated = any(r.stage == served.stage and r.kind == "首评" for r in ratings)
    return PadView(pad=pad.id, clerk=clerk_id, clerk_name=clerk.name if clerk else "", served=served, rated=rated)


class RatingController(Controller):
    path = "/api"
    tags = ("好差评",)

    @post(
        "/cases/{case_no:str}/ratings",
        summary="评价办件（自助终端、评价器、12345 电话记录）",
        description="自助终端须提供申请人证件号码后六位（恰好 6 个字符，否则 422；不符时 403），"
        "同一办件编号每小时核对失败 5 次后 429（Retry-After）。",
        **documented(*COMMAND, own={201: RATED}, reasons={403: "无权评价，或自助终端证件号码后六位缺失或不符"}),
    )
    async def rate(
        self, request: Req, case_no: FromPath[str], data: JSONBody[RatingIn], hall: HallDep
    ) -> Response[Any]:
        user = access.caller(hall, request, Action.RATE)
        case_id = await hall.case_id(case_no)
        if access.rule(user, Action.RATE) is access.Rule.APPLICANT_ID and not data.applicant_id_tail:
            # The kiosk rates with the applicant's ID: evaluation checks the digits against the applicant's.
            raise HTTPException(status_code=403, detail="在自助终端评价须输入申请人证件号码后六位，以确认是本人的办件")
        # Without a stage the service just given is meant: after delivery, the delivered one.
        seen_delivered = not data.stage and (await hall.timeline.states(hall.redis, [case_id]))[case_id] in (
            "已出件",
            "已评价",
        )
        command = SubmitRating(
            level=data.level,
            code=data.code,
            code_table=data.code_table,
            channel=data.channel,
            text=data.text,
            stage=data.stage,
            kind=data.kind,
            indicators=data.indicators,
            anonymous=data.anonymous,
            applicant_id_tail=data.applicant_id_tail,
            seen_delivered=seen_delivered,
        )
        if not data.applicant_id_tail:
            return await hall.send(topics.EVALUATION_COMMANDS, command, case_id, user.actor)
        await check_id_attempts(hall.redis, hall.settings, case_no)  # 429 once the case's attempts are used up
        try:
            return await hall.send(topics.EVALUATION_COMMANDS, command, case_id, user.actor)
        except HTTPException as refused:
            if WRONG_TAIL in str(refused.detail):
                await id_check_failed(hall.redis, hall.settings, case_no)
            raise

    @get(
        "/cases/{case_no:str}/ratings",
        summary="办件的评价与差评整改",
        description="有权查看该办件的工作人员可看（本场所窗口人员、有本部门环节的审批人员、科室负责人、运维人员）；"
        "自助终端和评价器 403（评价器只用 /api/pad/current）。",
        **documented(404),
    )
    async def case_ratings(
        self,
        request: Req,
        case_no: FromPath[str],
        hall: HallDep,
        *,
        ratings: RatingBookDep,
        dossiers: DossiersDep,
        workbench: WorkbenchDep,
    ) -> CaseRatings:
        user = access.caller(hall, request, Action.RATINGS_READ)
        case_id = await hall.case_id(case_no)
        await access.check_case(
            hall, user, Action.RATINGS_READ, case_id, case_no, dossiers=dossiers, workbench=workbench
        )
        followups = await ratings.followups(hall.redis, case_id)
        return CaseRatings(case_no=case_no, ratings=await ratings.ratings(hall.redis, case_id), followups=followups)

    @post(
        "/cases/{case_no:str}/rating-links",
        summary="生成评价链接（短信、二维码、网上评价）",
        **documented(*COMMAND, own={201: LINKED}),
    )
    async def link(
        self, request: Req, case_no: FromPath[str], data: JSONBody[LinkIn], hall: HallDep, dossiers: DossiersDep
    ) -> Response[Any]:
        user = access.caller(hall, request, Action.RATING_LINK)
        case_id = await hall.case_id(case_no)
        await access.check_case(hall, user, Action.RATING_LINK, case_id, case_no, dossiers=dossiers)
        command = IssueRatingLink(stage=data.stage, channel=data.channel, purpose=data.purpose)
        return await issue_link(hall, request, case_id, user, command)

    @get("/pad/current", summary="评价器：本窗口刚办理的服务", **documented())
    async def pad_current(
        self, request: Req, hall: HallDep, ratings: RatingBookDep, rating_config: RatingConfigDep
    ) -> PadView:
        return await pad_view(hall, ratings, rating_config, access.caller(hall, request, Action.PAD))

    @post("/pad/ratings", summary="评价器：一键评价本窗口刚办理的服务", **documented(*COMMAND, own={201: RATED}))
    async def pad_rate(self, request: Req, data: JSONBody[PadRatingIn], hall: HallDep) -> Response[Any]:
        pad = access.caller(hall, request, Action.PAD)
        case_id = await hall.case_id(data.case_no)
        command = SubmitRating(
            level=data.level,
            code=data.code,
            code_table=data.code_table,
            channel="评价器",
            stage=data.stage,
            indicators=data.indicators,
        )
        return await hall.send(topics.EVALUATION_COMMANDS, command, case_id, pad.actor)

    @post(
        "/rate/{token:str}",
        summary="通过评价链接评价（短信、二维码；无需登录）",
        **documented(
            *COMMAND,
            public=True,
            own={201: success(Recorded | FollowUp, "已评价（Recorded）；整改结果评价时为变更后的差评整改记录")},
            reasons={403: "评价码无效（无法识别、签名不符或没有它所指的办件）"},
        ),
    )
    async def rate_by_link(self, token: FromPath[str], data: JSONBody[LinkRatingIn], hall: HallDep) -> Response[Any]:
        claims = peek(token)
        if claims is None:
            raise HTTPException(status_code=403, detail="评价码无效：内容无法识别")
        try:
            case_id = await hall.case_id(claims.case_no)
        except NotFoundException:
            raise HTTPException(status_code=403, detail="评价码无效：没有它所指的办件") from None
        command: msgspec.Struct
        if claims.purpose == "整改评价":
            command = RateCorrection(
                token=token, level=data.level, code=data.code, code_table=data.code_table, text=data.text
            )
        else:
            command = SubmitRating(
                level=data.level,
                code=data.code,
                code_table=data.code_table,
                channel=claims.channel,
                text=data.text,
                kind="追评" if claims.purpose == "追评" else "首评",
                indicators=data.indicators,
                token=token,
                anonymous=data.anonymous,
            )
        return await hall.send(topics.EVALUATION_COMMANDS, command, case_id, LINK_RATER)
