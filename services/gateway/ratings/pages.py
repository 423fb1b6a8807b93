"""The rating pages (zh-CN): the window pad, the kiosk and the rating-link page for raters; the bad-review desk
and the statistics for the hall's staff; the public disclosure page. Actions post to the API (ratings.js)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from litestar import Controller, get
from litestar.exceptions import HTTPException
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from services.gateway import access, charts
from services.gateway.access import Action
from services.gateway.context import Gateway, HallDep, Req
from services.gateway.exports.sheets import MOST_ROWS
from services.gateway.ratings.api import RatingBookDep, RatingConfigDep, pad_view
from services.gateway.ratings.book import RatingBook
from services.gateway.ratings.followups_api import DESK_READERS, may_see, stats_view, visible
from services.gateway.ratings.links import peek
from services.gateway.ratings.masking import mask_id, mask_name
from services.gateway.ratings.statistics import Filter, GroupBy, made
from services.gateway.users import User
from services.gateway.views.evaluation import FollowUp
from shared.clock import SYSTEM_CLOCK
from shared.localtime import LOCAL, when

LEVELS = ("非常满意", "满意", "基本满意", "不满意", "非常不满意")
GROUPS: dict[str, str] = {"department": "部门", "item": "事项", "clerk": "工作人员", "period": "月份"}
PUBLIC_ROWS = 50


def pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


HELPERS: dict[str, Any] = {"when": when, "pct": pct, "levels": LEVELS, "mask_name": mask_name, "mask_id": mask_id}
HELPERS["export_most"] = MOST_ROWS  # the exports' row cap, shown beside 导出 CSV / 导出 Excel


def names(hall: Gateway) -> dict[str, Any]:
    """``who(user_id)``: a clerk's name for the pages (the id when the user is unknown)."""

    def who(user_id: str) -> str:
        user = hall.users.get(user_id)
        return user.name if user else user_id

    return {"who": who}


def sees(user: User, followup: FollowUp) -> bool:
    """Whether the bad-review desk may open this follow-up for the user (as the API's detail decides)."""
    try:
        may_see(user, followup)
    except HTTPException:
        return False
    return True


WEEKS = 12  # the weekly charts: the last 12 weeks, or the filter's period (at most MOST_WEEKS weeks, the last ones)
MOST_WEEKS = 53


async def weekly(book: RatingBook, hall: Gateway, where: Filter, today: date) -> dict[str, str]:
    """好评率, 差评数 and 回访整改率 per week (Monday to Sunday) of the filter's period, from the book's daily counters
    (O(days), never the ratings): the filter's department, item and clerk hold, as in the table."""
    until = where.until or today
    first = until - timedelta(days=until.weekday())  # the Monday of the last week
    start = where.since or first - timedelta(weeks=WEEKS - 1)
    start = max(start, first - timedelta(weeks=MOST_WEEKS - 1))
    days = await book.daily_counts(hall.redis, where, start, until)
    mondays = [start - timedelta(days=start.weekday())]
    while mondays[-1] + timedelta(weeks=1) <= until:
        mondays.append(mondays[-1] + timedelta(weeks=1))
    weeks: dict[date, dict[str, int]] = {monday: {} for monday in mondays}
    for day, counts in days.items():
        moment = date.fromisoformat(day)
        monday = moment - timedelta(days=moment.weekday())
        into = weeks.setdefault(monday, {})
        for figure, count in counts.items():
            into[figure] = into.get(figure, 0) + count
    figures = [made(f"{monday:%m-%d}", weeks[monday]) for monday in mondays]
    labels = [f.group for f in figures]
    span = f"{max(start, mondays[0]):%Y-%m-%d} 至 {until:%Y-%m-%d}"
    return {
        "good": charts.line_chart(
            f"好评率（每周，{span}）",
            labels,
            [charts.Series("好评率", [f.good_rate for f in figures])],
            percent=True,
            label_header="周（起始日）",
        ),
        "bad": charts.bar_chart(
            f"差评数（每周，{span}）",
            labels,
            [f.bad_reviews for f in figures],
            name="差评数",
            unit="件",
            label_header="周（起始日）",
        ),
        "visit": charts.line_chart(
            f"回访整改率（每周，{span}）",
            labels,
            [charts.Series("回访整改率", [f.visit_correction_rate for f in figures])],
            percent=True,
            label_header="周（起始日）",
        ),
    }


def _day(text: str, name: str) -> date | None:
    """A filter's date from the form (YYYY-MM-DD), None when left empty; 400 naming the field otherwise."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HTTPException(status_code=400, detail=f"{name}：日期格式应为 YYYY-MM-DD，收到 {text}") from None


class RatingPages(Controller):
    include_in_schema = False

    @get("/pad")
    async def pad(
        self, request: Req, hall: HallDep, ratings: RatingBookDep, rating_config: RatingConfigDep
    ) -> Template:
        user = hall.users.page_user(request, "pad")
        view = await pad_view(hall, ratings, rating_config, user)
        context = {**HELPERS, "user": user, "view": view, "indicators": rating_config.indicators_for("评价器")}
        return Template(template_name="ratings/pad.html", context=context)

    @get("/rate")
    async def kiosk(self, request: Req, hall: HallDep, case_no: FromQuery[str] = "") -> Template:
        user = hall.users.page_user(request, "kiosk")
        return Template(template_name="ratings/kiosk.html", context={**HELPERS, "user": user, "case_no": case_no})

    @get("/rate/{token:str}")
    async def link(
        self, token: FromPath[str], hall: HallDep, ratings: RatingBookDep, rating_config: RatingConfigDep
    ) -> Template:
        claims = peek(token)
        followup = None
        if claims is not None and claims.purpose == "整改评价":
            case_id = await hall.timeline.case_id(hall.redis, claims.case_no)
            of_case = await ratings.followups(hall.redis, case_id) if case_id else []
            followup = of_case[0] if of_case else None
        indicators = rating_config.indicators_for(claims.channel) if claims and claims.purpose != "整改评价" else []
        context = {
            **HELPERS,
            "user": None,
            "token": token,
            "claims": claims,
            "followup": followup,
            "indicators": indicators,
        }
        return Template(template_name="ratings/link.html", context=context, status_code=200 if claims else 403)

    @get("/ratings/desk")
    async def desk(
        self,
        request: Req,
        hall: HallDep,
        ratings: RatingBookDep,
        *,
        status: FromQuery[str] = "",
        id: FromQuery[str] = "",
        cursor: FromQuery[str] = "",
    ) -> Template:
        """A page of the bad reviews the user sees (50, newest first) and the one chosen (wherever it is listed)."""
        user = hall.users.page_user(request, *DESK_READERS)
        followups, found = await visible(ratings, hall, user, status, cursor=cursor)
        chosen = await ratings.followup(hall.redis, id) if id else None
        if chosen is not None and not sees(user, chosen):
            chosen = None
        context = {
            **HELPERS,
            **names(hall),
            "user": user,
            "followups": followups,
            "total": found.total,
            "next_cursor": found.next_cursor,
            "cursor": cursor,
            "status": status,
            "chosen": chosen,
            "history": await ratings.history(hall.redis, chosen.followup_id) if chosen else [],
            "now": SYSTEM_CLOCK.now().astimezone(LOCAL),
        }
        return Template(template_name="ratings/desk.html", context=context)

    @get("/ratings/stats")
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
        since: FromQuery[str] = "",  # the form sends its empty date fields too: empty is no bound
        until: FromQuery[str] = "",
    ) -> Template:
        user = hall.users.page_user(request, *access.roles(Action.STATS))
        where = Filter(
            department=department, item=item, clerk=clerk, since=_day(since, "since"), until=_day(until, "until")
        )
        view = await stats_view(hall, ratings, by, where)
        context = {**HELPERS, **names(hall), "user": user, "view": view, "where": where, "groups": GROUPS}
        context["weekly"] = await weekly(ratings, hall, where, SYSTEM_CLOCK.now().astimezone(LOCAL).date())
        return Template(template_name="ratings/stats.html", context=context)

    @get("/public/ratings")
    async def public(self, hall: HallDep, ratings: RatingBookDep, *, cursor: FromQuery[str] = "") -> Template:
        """公示: the figures, the answered bad reviews (the latest 50) and the ratings, 50 a page, newest first."""
        records, found = await ratings.ratings_page(hall.redis, PUBLIC_ROWS, cursor)
        corrections, replied = await ratings.corrections_page(hall.redis, PUBLIC_ROWS)
        total = (await stats_view(hall, ratings, "all", Filter())).total
        context = {
            **HELPERS,
            "ratings": records,
            "rated": found.total,
            "next_cursor": found.next_cursor,
            "first_page": not cursor,
            "corrections": corrections,
            "replied": replied.total,
            "total": total,
        }
        return Template(template_name="public/ratings.html", context=context)
