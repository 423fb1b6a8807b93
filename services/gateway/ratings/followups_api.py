"""The bad-review desk API (差评整改) and the statistics: the staff and supervisors of the department(s) a bad
review is charged to (谁办理谁负责: the window's for 受理 / 出件, the deciding one's for 办结) answer, appeal and
correct; the hall's 政务服务管理机构 (hall-supervisor) rules on appeals, never a rated department; the hall's
operators see all; evaluation decides every step and says why not."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody

from services.gateway import access
from services.gateway.access import Action
from services.gateway.context import Gateway, HallDep, Req
from services.gateway.openapi import COMMAND, documented, success
from services.gateway.paging import (
    DEFAULT_LIMIT,
    PAGED,
    PAGED_REASONS,
    PAGING_TEXT,
    CursorParam,
    LimitParam,
    Slice,
    checked_limit,
    refuse_legacy,
)
from services.gateway.ratings.api import LINKED, RatingBookDep, issue_link
from services.gateway.ratings.book import RatingBook
from services.gateway.ratings.schemas import (
    AppealReviewIn,
    CloseCorrection,
    ClosingIn,
    CorrectionLinkIn,
    ExtendCorrection,
    ExtensionIn,
    FollowUpDetail,
    FollowUpList,
    IssueRatingLink,
    RecordReturnVisit,
    ReviewAppeal,
    StatsView,
    VerifyBadReview,
    VerifyIn,
    VisitIn,
)
from services.gateway.ratings.statistics import Filter, GroupBy
from services.gateway.users import Role, User
from services.gateway.views.evaluation import FollowUp
from shared import topics

DESK: tuple[Role, ...] = access.roles(Action.FOLLOWUP)
# Who reads the desk: the handlers, and the appeal judges (政务服务管理机构).
DESK_READERS: tuple[Role, ...] = tuple(dict.fromkeys((*DESK, *access.roles(Action.APPEAL_REVIEW))))
CHANGED = success(FollowUp, "差评整改记录（变更后）")
# How long an extension's answer waits for timing's new deadline (the desk shows 计算中 after that).
EXTENSION_WAIT_S = 5.0


def may_handle(user: User, followup: FollowUp, action: Action = Action.FOLLOWUP) -> None:
    """The rated department's staff and supervisor handle a bad review; operators handle every one."""
    access.check_followup(user, action, followup)


def may_see(user: User, followup: FollowUp) -> None:
    """The rated departments see their bad review; the hall's 政务服务管理机构 also sees every appealed one."""
    if followup.appealed_by and access.may(user, Action.APPEAL_REVIEW):
        return
    may_handle(user, followup)


async def visible(
    book: RatingBook, hall: Gateway, user: User, status: str = "", *, limit: int = DEFAULT_LIMIT, cursor: str = ""
) -> tuple[list[FollowUp], Slice]:
    """A page of the bad reviews a user sees, newest first: staff and supervisors those charged to their
    department (谁办理谁负责); the hall's 政务服务管理机构 also every appealed one; operators every one. From the
    book's sorted sets, never a scan."""
    if access.rule(user, Action.FOLLOWUP) is access.Rule.ANY:
        return await book.followups_page(hall.redis, checked_limit(limit), cursor, status=status)
    judge = access.may(user, Action.APPEAL_REVIEW)
    return await book.followups_page(
        hall.redis, checked_limit(limit), cursor, department=user.department, appealed=judge, status=status
    )


async def known(book: RatingBook, hall: Gateway, followup_id: str) -> FollowUp:
    followup = await book.followup(hall.redis, followup_id)
    if followup is None:
        raise NotFoundException(f"没有编号为 {followup_id} 的差评记录")
    return followup


async def extended_deadline(book: RatingBook, hall: Gateway, followup_id: str) -> FollowUp | None:
    """The extended follow-up once timing has answered with its new deadline (None if it takes too long)."""
    loop = asyncio.get_running_loop()
    ends = loop.time() + EXTENSION_WAIT_S
    while loop.time() < ends:
        followup = await book.followup(hall.redis, followup_id)
        if followup is not None and followup.extended and followup.deadline is not None:
            return followup
        await asyncio.sleep(0.05)
    return None


class FollowUpController(Controller):
    path = "/api/ratings"
    tags = ("差评整改",)

    async def _send(
        self,
        hall: Gateway,
        book: RatingBook,
        user: User,
        followup_id: str,
        command: msgspec.Struct,
        *,
        action: Action = Action.FOLLOWUP,
    ) -> Response[Any]:
        followup = await known(book, hall, followup_id)
        may_handle(user, followup, action)
        return await hall.send(topics.EVALUATION_COMMANDS, command, followup.case_id, user.actor)

    @get(
        "/followups",
        summary="差评整改台账",
        description="本部门被评差评（政务服务管理机构另可看全部申诉中的，运维人员看全部），按评价时间倒序；"
        "status 只列该状态的。" + PAGING_TEXT,
        **documented(*PAGED, reasons=PAGED_REASONS),
    )
    async def followups(
        self,
        request: Req,
        hall: HallDep,
        ratings: RatingBookDep,
        *,
        status: FromQuery[str] = "",
        limit: LimitParam = DEFAULT_LIMIT,
        cursor: CursorParam = "",
    ) -> FollowUpList:
        user = hall.users.caller(request, *DESK_READERS)
        refuse_legacy(request.query_params)
        shown, found = await visible(ratings, hall, user, status, limit=limit, cursor=cursor)
        return FollowUpList(items=shown, next_cursor=found.next_cursor, total=found.total)

    @get("/followups/{followup_id:str}", summary="差评详情与办理记录", **documented(404))
    async def show(
        self, request: Req, followup_id: FromPath[str], hall: HallDep, ratings: RatingBookDep
    ) -> FollowUpDetail:
        user = hall.users.caller(request, *DESK_READERS)
        followup = await known(ratings, hall, followup_id)
        may_see(user, followup)
        return FollowUpDetail(followup=followup, history=await ratings.history(hall.redis, followup_id))

    @post(
        "/followups/{followup_id:str}/verification",
        summary="核实并回复：申诉或整改",
        status_code=200,
        **documented(*COMMAND, own={200: CHANGED}),
    )
    async def verify(
        self, request: Req, followup_id: FromPath[str], data: JSONBody[VerifyIn], hall: HallDep, ratings: RatingBookDep
    ) -> Response[Any]:
        user = access.caller(hall, request, Action.FOLLOWUP)
        command = VerifyBadReview(
            followup_id=followup_id,
            outcome=data.outcome,
            reply=data.reply,
            appeal_reason=data.appeal_reason,
            department=user.department,
        )
        return await self._send(hall, ratings, user, followup_id, command)

    @post(
        "/followups/{followup_id:str}/appeal-review",
        summary="裁决申诉（政务服务管理机构；被评价部门不能裁决）",
        status_code=200,
        **documented(*COMMAND, own={200: CHANGED}),
    )
    async def review(
        self,
        request: Req,
        followup_id: FromPath[str],
        data: JSONBody[AppealReviewIn],
        hall: HallDep,
        ratings: RatingBookDep,
    ) -> Response[Any]:
        user = hall.users.caller(request)  # the rule (access.check_appeal_review) names why a caller is refused
        command = ReviewAppeal(
            followup_id=followup_id, upheld=data.upheld, opinion=data.opinion, department=user.department
        )
        return await self._send(hall, ratings, user, followup_id, command, action=Action.APPEAL_REVIEW)

    @post(
        "/followups/{followup_id:str}/extension",
        summary="整改延期（限一次）",
        status_code=200,
        **documented(*COMMAND, own={200: CHANGED}),
    )
    async def extend(
        self,
        request: Req,
        followup_id: FromPath[str],
        data: JSONBody[ExtensionIn],
        hall: HallDep,
        ratings: RatingBookDep,
    ) -> Response[Any]:
        user = access.caller(hall, request, Action.FOLLOWUP)
        command = ExtendCorrection(followup_id=followup_id, reason=data.reason, department=user.department)
        sent = await self._send(hall, ratings, user, followup_id, command)
        if sent.status_code != 200:
            return sent
        # The new deadline is timing's answer for the extension's clock: answer with it, not with an empty one.
        extended = await extended_deadline(ratings, hall, followup_id)
        return sent if extended is None else Response(extended, status_code=200)

    @post(
        "/followups/{followup_id:str}/return-visit",
        summary="回访记录",
        status_code=200,
        **documented(*COMMAND, own={200: CHANGED}),
    )
    async def visit(
        self, request: Req, followup_id: FromPath[str], data: JSONBody[VisitIn], hall: HallDep, ratings: RatingBookDep
    ) -> Response[Any]:
        user = access.caller(hall, request, Action.FOLLOWUP)
        command = RecordReturnVisit(
            followup_id=followup_id, method=data.method, note=data.note, department=user.department
        )
        return await self._send(hall, ratings, user, followup_id, command)

    @post(
        "/followups/{followup_id:str}/closing",
        summary="整改办结：整改完成或无法整改",
        status_code=200,
        **documented(*COMMAND, own={200: CHANGED}),
    )
    async def close(
        self, request: Req, followup_id: FromPath[str], data: JSONBody[ClosingIn], hall: HallDep, ratings: RatingBookDep
    ) -> Response[Any]:
        user = access.caller(hall, request, Action.FOLLOWUP)
        command = CloseCorrection(
            followup_id=followup_id, outcome=data.outcome, explanation=data.explanation, department=user.department
        )
        return await self._send(hall, ratings, user, followup_id, command)

    @post(
        "/followups/{followup_id:str}/correction-link",
        summary="生成整改结果评价链接（发给评价人）",
        **documented(*COMMAND, own={201: LINKED}),
    )
    async def correction_link(
        self,
        request: Req,
        followup_id: FromPath[str],
        data: JSONBody[CorrectionLinkIn],
        hall: HallDep,
        ratings: RatingBookDep,
    ) -> Response[Any]:
        user = access.caller(hall, request, Action.FOLLOWUP)
        followup = await known(ratings, hall, followup_id)
        may_handle(user, followup)
        command = IssueRatingLink(stage=followup.stage, channel=data.channel, purpose="整改评价")
        return await issue_link(hall, request, followup.case_id, user, command)

    @get(
        "/stats",
        summary="好差评统计（好评率、主动评价好评率、未评率、差评回复率、回访整改率、回访整改满意率）",
        **documented(),
    )
    async def stats(
        self,
        request: Req,
        hall: HallDep,
        ratings: RatingBookDep,
        *,
        by: FromQuery[GroupBy] = "department",
        department: FromQuery[str] = "",
        item: FromQuery[str] = "",
        clerk: FromQuery[str] = "",
        since: FromQuery[date | None] = None,
        until: FromQuery[date | None] = None,
    ) -> StatsView:
        access.caller(hall, request, Action.STATS)
        where = Filter(department=department, item=item, clerk=clerk, since=since, until=until)
        return await stats_view(hall, ratings, by, where)


async def stats_view(hall: Gateway, book: RatingBook, by: GroupBy, where: Filter) -> StatsView:
    """The statistics from the book's counters: O(days in the filter's range × groups), never a read of every
    rating (:mod:`services.gateway.ratings.counters`; :func:`statistics.statistics` stays the reference)."""
    groups, total = await book.statistics(hall.redis, by, where)
    return StatsView(by=by, groups=groups, total=total)
