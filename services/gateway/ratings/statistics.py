"""好差评 statistics by department, item, clerk and period (pure: records in, figures out).

This is the reference, not what a request reads: the pages, the API and the exports read the same figures from the
counters the ratings book keeps (:mod:`services.gateway.ratings.counters`), and
``tests/integration/test_stats_counters.py`` holds the two equal on random records.

Counted units:
- a **service** is one first rating (首评) of one service event, given by a rater (主动评价) or by the system when
  the window passed (默认评价). 追评 are further opinions on a service already counted and are not counted again.
- a **bad review** is one follow-up (差评整改): opened by the first 不满意/非常不满意 rating of a service.

Each rate is ``None`` when its denominator is zero (shown as “—”). Defaults are always kept apart from ratings
given by people: 主动评价好评率 ignores them, 未评率 counts them.

无效差评 (a bad review whose appeal was upheld) are left out of every rate and every count a rate is made of: the
rating that opened it is not a service counted, the follow-up is not a bad review counted; ``invalid`` shows how
many there were, apart.

谁办理谁负责: grouped or filtered by department or clerk, a rating counts to every party it is charged to (the
window — service point, its department and the clerk — for 受理 / 出件, the deciding department and handler for
办结, both for 整体); in the total it counts once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Literal

import msgspec

from services.gateway.views.evaluation import FollowUp, RatingRecorded
from shared.localtime import LOCAL

GOOD = frozenset({"非常满意", "满意", "基本满意"})
GroupBy = Literal["department", "item", "clerk", "period", "all"]


class Filter(msgspec.Struct, frozen=True, kw_only=True):
    """Which records count: by department, item code, clerk and a period of local dates (both ends included)."""

    department: str = ""
    item: str = ""
    clerk: str = ""
    since: date | None = None
    until: date | None = None

    def admits(self, department: str, item: str, clerk: str, at: datetime) -> bool:
        day = at.astimezone(LOCAL).date()
        return (
            self.department in ("", department)
            and self.item in ("", item)
            and self.clerk in ("", clerk)
            and (self.since is None or day >= self.since)
            and (self.until is None or day <= self.until)
        )


class Figures(msgspec.Struct, frozen=True, kw_only=True):
    """The counts of one group and the six rates made from them."""

    group: str
    services: int  # first ratings, given or default
    active: int  # first ratings given by raters
    defaults: int  # first ratings given by the system
    good: int  # first ratings 非常满意/满意/基本满意, defaults included
    active_good: int
    bad_reviews: int  # follow-ups opened, 无效差评 left out
    replied: int  # of those, answered (差评回复)
    invalid: int  # follow-ups ruled 无效差评 after an appeal (shown apart, in no rate)
    visited_corrected: int  # follow-ups 整改完成 with a return visit (回访)
    correction_rated: int  # of those, the corrections the rater rated
    correction_good: int  # of those, rated 非常满意/满意/基本满意
    good_rate: float | None
    active_good_rate: float | None
    unrated_rate: float | None
    reply_rate: float | None
    visit_correction_rate: float | None
    visit_correction_satisfaction: float | None


def _share(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def good_rate(good: int, services: int) -> float | None:
    """好评率 = first ratings 非常满意/满意/基本满意 (defaults included) ÷ all first ratings (defaults included)."""
    return _share(good, services)


def active_good_rate(active_good: int, active: int) -> float | None:
    """主动评价好评率 = good first ratings given by raters ÷ first ratings given by raters (defaults left out)."""
    return _share(active_good, active)


def unrated_rate(defaults: int, services: int) -> float | None:
    """未评率 = services rated by default (no rating within the window) ÷ all first ratings (defaults included)."""
    return _share(defaults, services)


def reply_rate(replied: int, bad_reviews: int) -> float | None:
    """差评回复率 = bad reviews the department answered (核实 with a reply to the rater) ÷ bad reviews."""
    return _share(replied, bad_reviews)


def visit_correction_rate(visited_corrected: int, bad_reviews: int) -> float | None:
    """回访整改率 = bad reviews 整改完成 with a return visit ÷ bad reviews (无效差评 already left out)."""
    return _share(visited_corrected, bad_reviews)


def visit_correction_satisfaction(correction_good: int, correction_rated: int) -> float | None:
    """回访整改满意率 = corrections (整改完成 with a return visit) the rater rated 非常满意/满意/基本满意 ÷ those
    corrections the rater rated."""
    return _share(correction_good, correction_rated)


INVALID = "无效差评"


def invalid_ratings(followups: Iterable[FollowUp]) -> frozenset[str]:
    """The ratings whose bad review was ruled 无效差评 (a follow-up's id is its rating's)."""
    return frozenset(f.rating_id or f.followup_id for f in followups if f.status == INVALID)


def figures(
    group: str,
    ratings: Iterable[RatingRecorded],
    followups: Iterable[FollowUp],
    invalid_ids: frozenset[str] | None = None,
) -> Figures:
    reviewed = list(followups)
    left_out = invalid_ratings(reviewed) if invalid_ids is None else invalid_ids
    firsts = [r for r in ratings if r.kind == "首评" and r.rating_id not in left_out]
    active = [r for r in firsts if not r.default]
    bad = [f for f in reviewed if f.status != INVALID]
    corrected = [f for f in bad if f.status == "整改完成" and f.visit is not None]
    rated = [f for f in corrected if f.correction_level is not None]
    counts = {
        "services": len(firsts),
        "active": len(active),
        "defaults": len(firsts) - len(active),
        "good": sum(r.level in GOOD for r in firsts),
        "active_good": sum(r.level in GOOD for r in active),
        "bad_reviews": len(bad),
        "replied": sum(f.replied_at is not None for f in bad),
        "invalid": sum(f.status == INVALID for f in reviewed),
        "visited_corrected": len(corrected),
        "correction_rated": len(rated),
        "correction_good": sum(f.correction_level in GOOD for f in rated),
    }
    return made(group, counts)


# The counts a group's figures are made of (every count field of :class:`Figures`).
FIGURES = (
    "services",
    "active",
    "defaults",
    "good",
    "active_good",
    "bad_reviews",
    "replied",
    "invalid",
    "visited_corrected",
    "correction_rated",
    "correction_good",
)


def made(group: str, counts: dict[str, int]) -> Figures:
    """A group's figures from its counts (a count not given is 0): the counts and the six rates made of them."""
    c = {figure: counts.get(figure, 0) for figure in FIGURES}
    return Figures(
        group=group,
        **c,
        good_rate=good_rate(c["good"], c["services"]),
        active_good_rate=active_good_rate(c["active_good"], c["active"]),
        unrated_rate=unrated_rate(c["defaults"], c["services"]),
        reply_rate=reply_rate(c["replied"], c["bad_reviews"]),
        visit_correction_rate=visit_correction_rate(c["visited_corrected"], c["bad_reviews"]),
        visit_correction_satisfaction=visit_correction_satisfaction(c["correction_good"], c["correction_rated"]),
    )


def _group(by: GroupBy, department: str, item_name: str, clerk: str, at: datetime) -> str:
    keys = {"department": department, "item": item_name, "clerk": clerk}
    if by == "period":
        return f"{at.astimezone(LOCAL):%Y-%m}"
    return keys.get(by, "合计")


def _groups(by: GroupBy, where: Filter, record: RatingRecorded | FollowUp, at: datetime) -> list[str]:
    """The groups a record counts in: one per party it is charged to that the filter admits, each group once."""
    keys = [
        _group(by, c.department, record.item_name, c.clerk, at)
        for c in record.charges()
        if where.admits(c.department, record.item_code, c.clerk, at)
    ]
    return list(dict.fromkeys(keys))


def statistics(
    ratings: Iterable[RatingRecorded], followups: Iterable[FollowUp], by: GroupBy = "all", where: Filter | None = None
) -> list[Figures]:
    """The figures per group (department, item, clerk or month of the rating / of the bad review), sorted."""
    where = where or Filter()
    followups = list(followups)
    left_out = invalid_ratings(followups)
    rated: dict[str, list[RatingRecorded]] = {}
    for r in ratings:
        for key in _groups(by, where, r, r.rated_at):
            rated.setdefault(key, []).append(r)
    reviewed: dict[str, list[FollowUp]] = {}
    for f in followups:
        for key in _groups(by, where, f, f.opened_at):
            reviewed.setdefault(key, []).append(f)
    keys = sorted(rated.keys() | reviewed.keys())
    return [figures(key, rated.get(key, []), reviewed.get(key, []), left_out) for key in keys]
