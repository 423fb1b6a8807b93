"""The SLA board's counts (合计, by department, by item, by clerk) and its 暂定 years, from indexes kept per scope.

A running clock is counted in twelve scopes at most: for 全部 and for its purpose group, the totals, its department,
its item and its clerk, and within its department its item and its clerk. A scope keeps two sorted sets of clock
ids: ``due``, scored by the moment the clock becomes 逾期 (0: an alert already said so), or, for a paused clock whose
status stands still, by -3 / -2 / -1 for 正常 / 预警 / 逾期; and ``warn`` (running, not paused), scored by the
moment it becomes 预警 or 逾期, whichever comes first. Counting a scope at ``now`` is then six ZCOUNTs:

    逾期 = due in [0, now] + paused at -1,   预警 = warn ≤ now − due in [0, now] + paused at -2,
    正常 = due ≥ 0 − warn ≤ now + paused at -3,   暂停 = the paused ones.

The names of each dimension's scopes are kept in a set (bounded by the catalogue and the staff, not by history),
and a clock resting on a year without an official schedule is in that year's ``prov`` set of its totals and
department scopes, so the banner's years are counted too. The board reads O(names) keys, never the clocks.
Where a clock stands is a pure function of its entry (:func:`kinds`), so a rebuild writes the same sets.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple, cast

import msgspec
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from shared.outbox import Write
from shared.sla import NORMAL, OVERDUE, WARNING, Status

UNNAMED = "（未填）"  # a clock without a department, item or clerk is counted under this name
DIMENSIONS = ("department", "item", "clerk")
FROZEN: dict[Status, float] = {NORMAL: -3.0, WARNING: -2.0, OVERDUE: -1.0}  # a paused clock's score in ``due``


class Count(msgspec.Struct, kw_only=True):
    name: str
    normal: int = 0
    warning: int = 0
    overdue: int = 0
    paused: int = 0


class Counted(NamedTuple):
    """What the counts need of a running clock: where it is counted, and when its status changes."""

    group: str  # the purpose group of the board's filter it falls under besides 全部 ("" for none)
    department: str
    item: str
    clerk: str
    frozen: Status | None  # paused: the status it stands still at; None: running
    due: float  # running: the moment (epoch s) it becomes 逾期, 0 when an alert said so
    warn: float  # running: the moment it becomes 预警 (or 逾期, whichever is first)
    years: tuple[int, ...]  # the years without an official schedule its times rest on (暂定)


class Tallies(NamedTuple):
    """The board's counts for one filter: 合计, by department, by item and by clerk, and the 暂定 years."""

    totals: Count
    by_department: list[Count]
    by_item: list[Count]
    by_clerk: list[Count]
    provisional_years: list[int]


Scope = tuple[str, str, str, str]  # (purpose group or "", department filter or "", dimension, name)


def scopes(counted: Counted) -> list[Scope]:
    department, item, clerk = (name or UNNAMED for name in (counted.department, counted.item, counted.clerk))
    groups = ["", counted.group] if counted.group else [""]
    found: list[Scope] = []
    for g in groups:
        found += [(g, "", "all", ""), (g, "", "department", department), (g, "", "item", item), (g, "", "clerk", clerk)]
        found += [(g, department, "item", item), (g, department, "clerk", clerk)]
    return found


def kinds(counted: Counted | None, scope: Scope) -> dict[str, float]:
    """The sorted sets of ``scope`` the clock is in, with its score in each ({} when not counted: stopped)."""
    if counted is None:
        return {}
    found = (
        {"due": FROZEN[counted.frozen]} if counted.frozen is not None else {"due": counted.due, "warn": counted.warn}
    )
    if scope[2] in ("all", "department"):
        found.update({f"prov:{year}": 0.0 for year in counted.years})
    return found


class Counts:
    """The counts' keys under ``prefix`` (the board's ``<ns>:gateway:sla``), their writes and their reads."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._count_script: AsyncScript | None = None

    def key(self, kind: str, scope: Scope) -> str:
        return ":".join((self.prefix, "cnt", kind, *scope))

    def names_key(self, group: str, department: str, dimension: str) -> str:
        return ":".join((self.prefix, "cnt-names", group, department, dimension))

    def years_key(self) -> str:
        return f"{self.prefix}:cnt-years"

    def writes(self, clock_id: str, was: Counted | None, now: Counted | None) -> list[Write]:
        """The writes that move the clock's counting from ``was`` to ``now`` (None: not counted, e.g. stopped)."""
        writes: list[Write] = []
        if now is not None and was is None:
            for g, d, dimension, name in scopes(now):
                if dimension != "all":
                    writes.append(sadd(self.names_key(g, d, dimension), name))
        if now is not None and now.years and (was is None or set(now.years) - set(was.years)):
            writes.append(sadd(self.years_key(), *(str(y) for y in now.years)))
        old_scopes = scopes(was) if was is not None else []
        new_scopes = scopes(now) if now is not None else []
        for scope in dict.fromkeys(old_scopes + new_scopes):
            before = kinds(was, scope) if scope in old_scopes else {}
            after = kinds(now, scope) if scope in new_scopes else {}
            for kind in before.keys() - after.keys():
                writes.append(zrem(self.key(kind, scope), clock_id))
            for kind, score in after.items():
                if before.get(kind) != score:
                    writes.append(zadd(self.key(kind, scope), {clock_id: score}))
        return writes

    async def scoped(
        self, redis: Redis, scopes: list[Scope], now: datetime, sizes_of: tuple[str, ...] = ()
    ) -> tuple[list[Count], list[int]]:
        """Each scope's count at ``now`` (named by the scope's name), six ZCOUNTs a scope, and the size of each sorted
        set in ``sizes_of``: one script, run by Redis in one round trip (a pipeline of the same commands cost the
        client about 13 µs a command, 3 ms for a board of 40 names)."""
        keys = [key for scope in scopes for key in (self.key("due", scope), self.key("warn", scope))]
        args = [repr(now.timestamp()), str(len(scopes)), *(repr(score) for score in FROZEN.values())]
        if self._count_script is None:  # redis-py's Script: EVALSHA, loaded again when a Redis does not know it
            self._count_script = redis.register_script(COUNT_SCRIPT)
        answers = cast("list[int]", await self._count_script(keys=[*keys, *sizes_of], args=args, client=redis))
        found = [_count(scope[3], answers[at * 6 : at * 6 + 6]) for at, scope in enumerate(scopes)]
        return found, answers[len(scopes) * 6 :]

    async def read(self, redis: Redis, group: str, department: str, now: datetime, loaded: Iterable[int]) -> Tallies:
        """(合计, by department, by item, by clerk, 暂定 years not yet loaded) of the board's filter at ``now``:
        two round trips, O(names) commands."""
        pipe = redis.pipeline(transaction=False)
        if not department:
            pipe.smembers(self.names_key(group, "", "department"))
        for dimension in ("item", "clerk"):
            pipe.smembers(self.names_key(group, department, dimension))
        pipe.smembers(self.years_key())
        sets = [sorted(m.decode() for m in members) for members in cast("list[set[bytes]]", await pipe.execute())]
        *names_by, all_years = sets
        departments = names_by.pop(0) if not department else []
        items, clerks = names_by
        total: Scope = (group, "", "all", "") if not department else (group, "", "department", department)
        wanted = [total]
        wanted += [(group, "", "department", name) for name in departments]
        wanted += [(group, department, "item", name) for name in items]
        wanted += [(group, department, "clerk", name) for name in clerks]
        years = sorted({int(y) for y in all_years} - set(loaded))
        resting_sets = tuple(self.key(f"prov:{year}", total) for year in years)
        counts, sizes = await self.scoped(redis, wanted, now, resting_sets)
        counts[0] = msgspec.structs.replace(counts[0], name="合计")
        resting = [year for year, n in zip(years, sizes, strict=True) if n]
        totals, rest = counts[0], counts[1:]
        by = _split(rest, [len(departments), len(items), len(clerks)])
        if department:
            by[0] = [msgspec.structs.replace(totals, name=department)] if _any(totals) else []
        return Tallies(totals, _ordered(by[0]), _ordered(by[1]), _ordered(by[2]), resting)


# KEYS: each scope's ``due`` and ``warn``, then the sets to size; ARGV: now, the number of scopes, the frozen scores.
# For each scope: 逾期 moments passed, 预警 moments passed, every running one, and the paused at each frozen score.
COUNT_SCRIPT = """
local now, scopes = ARGV[1], tonumber(ARGV[2])
local out = {}
for i = 1, scopes do
  local due, warn = KEYS[2 * i - 1], KEYS[2 * i]
  out[#out + 1] = redis.call('ZCOUNT', due, 0, now)
  out[#out + 1] = redis.call('ZCOUNT', warn, '-inf', now)
  out[#out + 1] = redis.call('ZCOUNT', due, 0, '+inf')
  for j = 3, #ARGV do
    out[#out + 1] = redis.call('ZCOUNT', due, ARGV[j], ARGV[j])
  end
end
for k = 2 * scopes + 1, #KEYS do
  out[#out + 1] = redis.call('ZCARD', KEYS[k])
end
return out
"""


def _count(name: str, answers: list[int]) -> Count:
    over, warned, live, paused_normal, paused_warning, paused_over = answers
    return Count(
        name=name,
        normal=live - warned + paused_normal,
        warning=warned - over + paused_warning,
        overdue=over + paused_over,
        paused=paused_normal + paused_warning + paused_over,
    )


def sadd(key: str, *members: str) -> Write:
    return lambda pipe: pipe.sadd(key, *members)


def zadd(key: str, scores: dict[str, float]) -> Write:
    return lambda pipe: pipe.zadd(key, scores)


def zrem(key: str, member: str) -> Write:
    return lambda pipe: pipe.zrem(key, member)


def _any(count: Count) -> bool:
    return bool(count.normal + count.warning + count.overdue)


def _split(counts: list[Count], sizes: list[int]) -> list[list[Count]]:
    parts, start = [], 0
    for size in sizes:
        parts.append(counts[start : start + size])
        start += size
    return parts


def _ordered(counts: list[Count]) -> list[Count]:
    """The names with a running clock, most overdue first, then most 预警, then by name (as the board shows them)."""
    return sorted((c for c in counts if _any(c)), key=lambda c: (-c.overdue, -c.warning, c.name))
