"""One way to page a list that grows with history: ``?limit=&cursor=``, answered from a Redis sorted set.

Every growing list of the gateway's API is kept by its projection as a sorted set (members are ids, scores the
list's order: a time as a POSIX timestamp); a page is read from it with ``zpage`` in O(log n + page size), never
a scan of the set. The order is stable: by score, then by member (ties). The cursor is opaque to callers: the
URL-safe base64 of the last item's sort key (score and id); the next page starts strictly after it, so an item
added or removed meanwhile neither repeats nor hides another. The answer carries ``items``, ``next_cursor``
(absent on the last page) and ``total`` (the set's size, O(1)).

``limit`` defaults to 50 and is at most 200; a bad limit or cursor, and the old ``page``/``size`` parameters,
are answered 400 with the reason (zh-CN).
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Annotated, Any, cast

import msgspec
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import QueryParameter
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

DEFAULT_LIMIT, MOST_LIMIT = 50, 200
LIMIT_TEXT = f"每页件数，1 到 {MOST_LIMIT}，默认 {DEFAULT_LIMIT}"
CURSOR_TEXT = "上一页答复中的 next_cursor；不填为第一页"
PAGING_TEXT = (
    f"分页：limit 每页件数（默认 {DEFAULT_LIMIT}、至多 {MOST_LIMIT}），cursor 取上一页答复的 next_cursor"
    "（最后一页没有 next_cursor）；total 为总件数。"
)

# The query parameters of every paged route (documented; ``checked_limit``/``Cursor.decode`` refuse others, 400).
LimitParam = Annotated[int, QueryParameter(description=LIMIT_TEXT, schema_extra={"minimum": 1, "maximum": MOST_LIMIT})]
CursorParam = Annotated[str, QueryParameter(description=CURSOR_TEXT)]
LEGACY = ("page", "size")

# What a paged route documents beyond the usual answers (``**documented(*PAGED, reasons=PAGED_REASONS)``).
PAGED = (422,)
PAGED_REASONS = {422: "cursor 无效：不是上一页答复中的 next_cursor"}


def bad_cursor() -> HTTPException:
    """A cursor is any string to the schema; one no answer gave is well-formed but meaningless: 422, not 400."""
    return HTTPException(status_code=422, detail="cursor 无效：请使用上一页答复中的 next_cursor")


def checked_limit(limit: int) -> int:
    if not 1 <= limit <= MOST_LIMIT:
        raise ValidationException(f"limit 须在 1 到 {MOST_LIMIT} 之间，收到 {limit}")
    return limit


def refuse_legacy(query: Any) -> None:
    """The old ``page``/``size`` parameters are answered 400 (they would silently show the first page)."""
    named = [p for p in LEGACY if p in query]
    if named:
        raise ValidationException(f"参数 {'、'.join(named)} 已停用：请用 limit 与 cursor（答复中的 next_cursor）分页")


class Cursor(msgspec.Struct, frozen=True, array_like=True):
    """The sort key of the last item shown: its score and its id."""

    score: float
    member: str

    def encode(self) -> str:
        return base64.urlsafe_b64encode(msgspec.json.encode(self)).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor | None:
        if not text:
            return None
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            cursor = msgspec.json.decode(raw, type=cls)
        except (binascii.Error, ValueError, msgspec.DecodeError):
            raise bad_cursor() from None
        if not math.isfinite(cursor.score) or not cursor.member:
            raise bad_cursor()
        return cursor


class Slice(msgspec.Struct, frozen=True, kw_only=True):
    """One page of a sorted set: the ids in order, the cursor after the last (None: no more), the set's size."""

    ids: list[str]
    next_cursor: str | None
    total: int


async def zpage(redis: Redis, key: str, limit: int, cursor: str = "", *, newest_first: bool = False) -> Slice:
    """A page of the sorted set ``key``: ascending by (score, id), or descending with ``newest_first``.

    Reads ``limit + 1`` entries (one more tells whether a next page exists) plus only those sharing the cursor's
    score that were already shown: O(log n + limit)."""
    checked_limit(limit)
    after = Cursor.decode(cursor)
    async with redis.pipeline(transaction=False) as pipe:  # the first rows and the total in one round trip
        _range(pipe, key, after, 0, limit + 1, newest_first=newest_first)
        pipe.zcard(key)
        first, total = await pipe.execute()
    found = await _after(redis, key, after, limit + 1, newest_first=newest_first, first=first)
    return _slice(found, limit, total)


async def zpage_union(
    redis: Redis, keys: tuple[str, str], limit: int, cursor: str, *, total: int, newest_first: bool = False
) -> Slice:
    """A page of the union of two sorted sets with the same scores (an item in both appears once): ``limit + 1``
    from each after the cursor, merged; ``total`` the union's size as the caller keeps it."""
    checked_limit(limit)
    after = Cursor.decode(cursor)
    merged: dict[str, float] = {}
    for key in keys:
        merged.update(await _after(redis, key, after, limit + 1, newest_first=newest_first))
    found = sorted(merged.items(), key=lambda kv: (kv[1], kv[0]), reverse=newest_first)
    return _slice(found, limit, total)


def _slice(found: list[tuple[str, float]], limit: int, total: int) -> Slice:
    shown = found[:limit]
    more = len(found) > limit and bool(shown)
    next_cursor = Cursor(score=shown[-1][1], member=shown[-1][0]).encode() if more else None
    return Slice(ids=[m for m, _ in shown], next_cursor=next_cursor, total=total)


async def _after(
    redis: Redis,
    key: str,
    after: Cursor | None,
    want: int,
    *,
    newest_first: bool,
    first: list[tuple[bytes, float]] | None = None,
) -> list[tuple[str, float]]:
    """Up to ``want`` entries of ``key`` strictly after the cursor, in order (skipping those sharing its score
    that were already shown); ``first``: the first ``want`` rows, already read."""
    offset, found = 0, list[tuple[str, float]]()
    while True:
        batch = want - len(found)
        if first is not None:
            rows, first = first, None
        else:
            rows = cast(
                "list[tuple[bytes, float]]", await _range(redis, key, after, offset, batch, newest_first=newest_first)
            )
        offset += len(rows)
        for raw, score in rows:
            member = raw.decode()
            if after is not None and score == after.score and _shown(member, after.member, newest_first):
                continue
            found.append((member, score))
        if len(found) >= want or len(rows) < batch:
            return found


def _shown(member: str, last: str, newest_first: bool) -> bool:
    return member >= last if newest_first else member <= last


def _range(
    client: Redis | Pipeline, key: str, after: Cursor | None, offset: int, count: int, *, newest_first: bool
) -> Any:
    """The read of ``count`` rows (member, score) from ``offset`` after the cursor's score: awaitable from a client,
    queued on a pipeline."""
    if after is None:
        return client.zrange(key, offset, offset + count - 1, desc=newest_first, withscores=True)
    if newest_first:
        return client.zrevrangebyscore(key, after.score, "-inf", start=offset, num=count, withscores=True)
    return client.zrangebyscore(key, after.score, "+inf", start=offset, num=count, withscores=True)


# Each projection's indexes as the gateway's code keeps them; bumped when a projection gains an index, so a namespace
# rebuilt by older code builds the new one once (a rebuild by this code writes every index: ``REBUILT`` says so).
INDEX_GENERATION = "3"
REBUILT = "rebuilt"  # ``<ns>:gateway:built-index:rebuilt``: the generation of the code that last rebuilt the namespace


def rebuilt_marker(marker: str) -> str:
    """The key a rebuild sets beside ``marker`` (``<ns>:gateway:built-index:…``)."""
    return f"{marker.split(':built-index:', 1)[0]}:built-index:{REBUILT}"


# Markers this process has seen built: an index once built stays complete (the projection keeps it, and a wiped
# Redis is rebuilt whole, every index with it), so a request asks Redis about each marker once per process.
_BUILT: set[str] = set()


async def ensure_index(redis: Redis, marker: str, build: Any) -> None:
    """Namespaces kept before an index existed: build it once from the records (``build`` an async callable),
    then mark it built (``marker``: a ``<ns>:gateway:built-index:…`` key, like the rebuild's ``built``, not a read
    model); the projection keeps the index from then on. A rebuild writes every index with everything else and
    sets :func:`rebuilt_marker` to ``INDEX_GENERATION``: nothing is built again after it."""
    if marker in _BUILT:
        return
    async with redis.pipeline(transaction=False) as pipe:
        pipe.exists(marker)
        pipe.get(rebuilt_marker(marker))
        built, rebuilt = await pipe.execute()
    if not built and rebuilt != INDEX_GENERATION.encode():
        await build()
        await redis.set(marker, "1")
    _BUILT.add(marker)
