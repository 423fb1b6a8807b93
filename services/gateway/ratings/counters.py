"""好差评 statistics from counters: what :func:`statistics.statistics` computes, kept incrementally so a request
costs O(days in the filter's range × groups), never O(ratings).

Each rating and each follow-up (its latest revision) **contributes** counts — the figures of
:class:`statistics.Figures` (``services`` … ``correction_good``) and ``n``, one per record, which says a group
holds a record at all (the reference lists a group of 追评 only, all zeros) — to **cells**. A cell is a filter
scope, a grouping and a group:

- the scope is the filter's dimensions a query may fix: none (``*``), or any of the department (``d``), the item
  code (``i``) and the clerk (``c``) of one charged party, e.g. ``d=税务局&c=张敏`` (8 scopes per party);
- the grouping is ``all`` (the group 合计), ``department``, ``item`` (its name) or ``clerk`` of that same party.

谁办理谁负责: a record charged to two parties counts to the cells of each, each cell once — so in the total (and in
a department both parties belong to) it counts once, as in :mod:`statistics`. The counts sit in one Redis hash
per local day and scope (``stats:day:{YYYY-MM-DD}:{scope}``, fields ``{grouping}|{group}|{figure}``) and in an
all-time hash per scope (``stats:total:{scope}``); ``stats:days`` holds the days that have counts (scored by
their ordinal). A query with ``since``/``until`` reads one hash per day with counts in the range; an unbounded one
reads the all-time hash (O(groups)); by period (month) it reads the days. Every combination of filter and
grouping is a scope and a grouping kept here, so none falls back to reading records.

Changes after the fact: each record keeps its last counted contribution (``stats:c:{r|f}:{id}``: its day, item
and charged parties, and the counts). A follow-up's newer revision subtracts what it counted and adds what it
counts now; a redelivered or older revision is ignored before this is reached (the book keeps the newest). A
follow-up becoming 无效差评 (an appeal upheld) — or ceasing to be one — also recounts its rating: an invalid
rating counts only ``n`` (it is no service counted), as the reference leaves it out of every rate.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from itertools import combinations
from typing import cast

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from services.gateway.ratings.statistics import GOOD, INVALID, Figures, Filter, GroupBy, made
from services.gateway.views.evaluation import FollowUp, RatingRecorded
from shared.localtime import LOCAL

GROUPINGS = ("all", "department", "item", "clerk")
TOTAL = "合计"


class Party(msgspec.Struct, frozen=True, array_like=True):
    department: str
    clerk: str


class Contribution(msgspec.Struct, frozen=True, kw_only=True):
    """What one record counted last: where (its day, item and parties) and how much (``counts``); for a rating also
    what it counts while its bad review is not 无效差评 (``valid``)."""

    day: str
    item_code: str
    item_name: str
    parties: list[Party]
    counts: dict[str, int]
    valid: dict[str, int] = {}


_contribution = msgspec.json.Decoder(Contribution)


def day_of(at: datetime) -> str:
    return at.astimezone(LOCAL).date().isoformat()


def scope_of(department: str = "", item: str = "", clerk: str = "") -> str:
    """The scope a filter fixes (``*`` for none)."""
    parts = [f"{k}={v}" for k, v in (("d", department), ("i", item), ("c", clerk)) if v]
    return "&".join(parts) or "*"


def cells(item_code: str, item_name: str, parties: Iterable[Party]) -> list[tuple[str, str]]:
    """Every (scope, ``grouping|group``) a record counts in, each once."""
    found: dict[tuple[str, str], None] = {}
    for party in parties:
        dims = [(k, v) for k, v in (("d", party.department), ("i", item_code), ("c", party.clerk)) if v]
        groups = {"all": TOTAL, "department": party.department, "item": item_name, "clerk": party.clerk}
        for size in range(len(dims) + 1):
            for chosen in combinations(dims, size):
                scope = "&".join(f"{k}={v}" for k, v in chosen) or "*"
                for grouping in GROUPINGS:
                    found[(scope, f"{grouping}|{groups[grouping]}")] = None
    return list(found)


def rating_counts(rating: RatingRecorded) -> dict[str, int]:
    """A rating's counts while it is valid (not the rating of a 无效差评)."""
    counts = {"n": 1}
    if rating.kind == "首评":
        good = rating.level in GOOD
        counts |= {"services": 1, "good": int(good)}
        if rating.default:
            counts["defaults"] = 1
        else:
            counts |= {"active": 1, "active_good": int(good)}
    return {k: v for k, v in counts.items() if v}


def followup_counts(followup: FollowUp) -> dict[str, int]:
    if followup.status == INVALID:
        return {"n": 1, "invalid": 1}
    corrected = followup.status == "整改完成" and followup.visit is not None
    rated = corrected and followup.correction_level is not None
    counts = {
        "n": 1,
        "bad_reviews": 1,
        "replied": int(followup.replied_at is not None),
        "visited_corrected": int(corrected),
        "correction_rated": int(rated),
        "correction_good": int(rated and followup.correction_level in GOOD),
    }
    return {k: v for k, v in counts.items() if v}


def parties_of(record: RatingRecorded | FollowUp) -> list[Party]:
    return list(dict.fromkeys(Party(c.department, c.clerk) for c in record.charges()))


def of_rating(rating: RatingRecorded, invalid: bool) -> Contribution:
    valid = rating_counts(rating)
    return Contribution(
        day=day_of(rating.rated_at),
        item_code=rating.item_code,
        item_name=rating.item_name,
        parties=parties_of(rating),
        counts={"n": 1} if invalid else valid,
        valid=valid,
    )


def of_followup(followup: FollowUp) -> Contribution:
    return Contribution(
        day=day_of(followup.opened_at),
        item_code=followup.item_code,
        item_name=followup.item_name,
        parties=parties_of(followup),
        counts=followup_counts(followup),
    )


def decode(raw: bytes | None) -> Contribution | None:
    return None if raw is None else _contribution.decode(raw)


def encode(contribution: Contribution) -> bytes:
    return msgspec.json.encode(contribution)


class Counters:
    """The counters' keys under a prefix (the book's ``…:gateway:ratings``) and their reads and writes."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def contribution_key(self, kind: str, record_id: str) -> str:
        return f"{self.prefix}:stats:c:{kind}:{record_id}"

    def day_key(self, day: str, scope: str) -> str:
        return f"{self.prefix}:stats:day:{day}:{scope}"

    def total_key(self, scope: str) -> str:
        return f"{self.prefix}:stats:total:{scope}"

    @property
    def days_key(self) -> str:
        return f"{self.prefix}:stats:days"

    def apply(self, pipe: Pipeline, old: Contribution | None, new: Contribution | None) -> None:
        """Subtract what ``old`` counted and add what ``new`` counts (only the difference is written)."""
        deltas: dict[tuple[str, str, str], int] = {}
        for contribution, sign in ((old, -1), (new, 1)):
            if contribution is None:
                continue
            for scope, field in cells(contribution.item_code, contribution.item_name, contribution.parties):
                for figure, count in contribution.counts.items():
                    key = (contribution.day, scope, f"{field}|{figure}")
                    deltas[key] = deltas.get(key, 0) + sign * count
        days: set[str] = set()
        for (day, scope, field), delta in deltas.items():
            if delta:
                pipe.hincrby(self.day_key(day, scope), field, delta)
                pipe.hincrby(self.total_key(scope), field, delta)
                days.add(day)
        for day in sorted(days):
            pipe.zadd(self.days_key, {day: date.fromisoformat(day).toordinal()})

    async def daily(self, redis: Redis, where: Filter, since: date, until: date) -> dict[str, dict[str, int]]:
        """The total counts (grouping ``all``) of each day with counts from ``since`` to ``until`` (the charts)."""
        scope = scope_of(where.department, where.item, where.clerk)
        low, high = max(since, where.since or since), min(until, where.until or until)
        days = [
            d.decode()
            for d in cast("list[bytes]", await redis.zrangebyscore(self.days_key, low.toordinal(), high.toordinal()))
        ]
        if not days:
            return {}
        async with redis.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.hgetall(self.day_key(day, scope))
            found = cast("list[dict[bytes, bytes]]", await pipe.execute())
        out: dict[str, dict[str, int]] = {}
        for day, fields in zip(days, found, strict=True):
            counts = out.setdefault(day, {})
            for raw, value in fields.items():
                kind, rest = raw.decode().split("|", 1)
                if kind == "all":
                    figure = rest.rsplit("|", 1)[1]
                    counts[figure] = counts.get(figure, 0) + int(value)
        return out

    async def statistics(self, redis: Redis, by: GroupBy, where: Filter) -> tuple[list[Figures], Figures]:
        """The groups (sorted) and the total of a query, as :func:`statistics.statistics` gives them."""
        scope = scope_of(where.department, where.item, where.clerk)
        grouping = "all" if by in ("all", "period") else by
        if where.since is None and where.until is None and by != "period":
            hashes = [("", cast("dict[bytes, bytes]", await redis.hgetall(self.total_key(scope))))]
        else:
            low = "-inf" if where.since is None else where.since.toordinal()
            high = "+inf" if where.until is None else where.until.toordinal()
            days = [d.decode() for d in cast("list[bytes]", await redis.zrangebyscore(self.days_key, low, high))]
            async with redis.pipeline(transaction=False) as pipe:
                for day in days:
                    pipe.hgetall(self.day_key(day, scope))
                found = cast("list[dict[bytes, bytes]]", await pipe.execute()) if days else []
            hashes = list(zip(days, found, strict=True))
        groups: dict[str, dict[str, int]] = {}
        total: dict[str, int] = {}
        for day, fields in hashes:
            for raw, value in fields.items():
                kind, rest = raw.decode().split("|", 1)
                group, figure = rest.rsplit("|", 1)
                if kind == "all":
                    total[figure] = total.get(figure, 0) + int(value)
                if kind == grouping:
                    key = day[:7] if by == "period" else group
                    counts = groups.setdefault(key, {})
                    counts[figure] = counts.get(figure, 0) + int(value)
        listed = [made(key, counts) for key, counts in sorted(groups.items()) if counts.get("n", 0) > 0]
        return listed, made(TOTAL, total)
