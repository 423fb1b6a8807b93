"""The ratings read model: every rating record, every bad-review follow-up (latest state and its history), and
for each clerk the service just given (what that clerk's window pad offers for rating).

Statistics come from counters the handlers keep per local day and scope (:mod:`counters`: O(days × groups) a
request, never a read of every rating); each record keeps its last counted contribution, so a follow-up's newer
revision (an appeal upheld: 无效差评) recounts it and its rating.
The lists page from sorted sets (services/gateway/paging.py) the handlers keep: ``ratingz`` every rating by
time; ``fuz`` every follow-up by the time of the rating, ``fuz:d:{dept}`` those charged to a department,
``fuz:a`` the appealed ones and ``fuz:a:d:{dept}`` the appealed ones of a department (the size of the overlap of
the two lists the hall's 政务服务管理机构 sees), each also ``…:s:{status}`` by status; ``fuz:replied`` the
answered ones (the public page's corrections).
The rater's ID number comes sealed (shared.pii) and is kept so; every read answers it masked (150***********1237)
unless ``whole`` is asked for by staff who act on the case.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import cast

import msgspec
from redis.asyncio import Redis
from redis.exceptions import WatchError

from services.gateway.paging import Slice, ensure_index, zpage, zpage_union
from services.gateway.ratings import counters
from services.gateway.ratings.counters import Contribution, Counters
from services.gateway.ratings.masking import mask_id
from services.gateway.ratings.statistics import INVALID, Figures, Filter, GroupBy
from services.gateway.views.evaluation import FollowUp, FollowUpChanged, RatingOpened, RatingRecorded
from shared.envelope import Envelope
from shared.kafka import HandlerTable, Route
from shared.outbox import Txn, Write
from shared.pii import Pii, UnsealError, for_settings
from shared.settings import HallSettings


class Served(msgspec.Struct, frozen=True, kw_only=True):
    """The latest service a clerk gave that is open for rating."""

    case_id: str
    case_no: str
    stage: str
    item_name: str
    applicant_name: str
    opened_at: datetime


class Change(msgspec.Struct, frozen=True, kw_only=True):
    change: str
    actor: str
    at: datetime


_served = msgspec.json.Decoder(Served)
_rating = msgspec.json.Decoder(RatingRecorded)
_followup = msgspec.json.Decoder(FollowUp)
_change = msgspec.json.Decoder(Change)


def _zadd(key: str, member: str, score: float) -> Write:
    return lambda pipe: pipe.zadd(key, {member: score})


def _zrem(key: str, member: str) -> Write:
    return lambda pipe: pipe.zrem(key, member)


def _rater_id(pii: Pii, number: str, whole: bool) -> str:
    try:
        opened = pii.unseal(number)
    except UnsealError:
        return mask_id(number)
    return opened if whole else mask_id(opened)


class RatingBook:
    def __init__(self, settings: HallSettings) -> None:
        self.settings = settings
        self.pii = for_settings(settings)
        self.counters = Counters(self.key())

    def _shown(self, item: RatingRecorded | FollowUp, whole: bool) -> RatingRecorded | FollowUp:
        if not item.rater.id_number:
            return item
        rater = msgspec.structs.replace(item.rater, id_number=_rater_id(self.pii, item.rater.id_number, whole))
        return msgspec.structs.replace(item, rater=rater)

    def key(self, *parts: str) -> str:
        return self.settings.key("gateway", "ratings", *parts)

    def table(self) -> HandlerTable:
        return {
            "RatingOpened.v1": Route(RatingOpened, self.rating_opened),
            "RatingRecorded.v1": Route(RatingRecorded, self.rating_recorded),
            "FollowUpChanged.v1": Route(FollowUpChanged, self.followup_changed),
        }

    async def rating_opened(self, env: Envelope, event: RatingOpened, txn: Txn) -> None:
        key = self.key("served", event.clerk)
        raw = await txn.get(key)
        if raw is not None and _served.decode(raw).opened_at > event.opened_at:
            return
        served = Served(
            case_id=env.case_id,
            case_no=event.case_no,
            stage=event.stage,
            item_name=event.item_name,
            applicant_name=event.applicant_name,
            opened_at=event.opened_at,
        )
        txn.set(key, served)

    async def rating_recorded(self, env: Envelope, event: RatingRecorded, txn: Txn) -> None:
        value = msgspec.json.encode(event)
        everyone, case = self.key("all"), self.key("case", env.case_id)
        rating_id = event.rating_id
        txn.write(lambda pipe: pipe.hset(everyone, rating_id, value))
        txn.write(lambda pipe: pipe.hset(case, rating_id, value))
        by_time, score = self.key("ratingz"), event.rated_at.timestamp()
        txn.write(lambda pipe: pipe.zadd(by_time, {rating_id: score}))
        # Counted once: a redelivery finds its own contribution and changes nothing.
        counted = self.counters.contribution_key("r", rating_id)
        old = counters.decode(await txn.get(counted))
        bad = await txn.get(self.key("followup", rating_id))
        new = counters.of_rating(event, invalid=bad is not None and _followup.decode(bad).status == INVALID)
        self._count(txn, counted, old, new)

    def _count(self, txn: Txn, key: str, old: Contribution | None, new: Contribution) -> None:
        if old == new:
            return
        book = self.counters
        txn.write(lambda pipe: book.apply(pipe, old, new))
        txn.set(key, counters.encode(new))

    async def _recount(self, txn: Txn, followup: FollowUp) -> None:
        """A follow-up's newest revision counted anew, and its rating with it (无效差评 or not)."""
        counted = self.counters.contribution_key("f", followup.followup_id)
        self._count(txn, counted, counters.decode(await txn.get(counted)), counters.of_followup(followup))
        rating_key = self.counters.contribution_key("r", followup.rating_id or followup.followup_id)
        rating = counters.decode(await txn.get(rating_key))
        if rating is not None:
            valid = {"n": 1} if followup.status == INVALID else rating.valid
            self._count(txn, rating_key, rating, msgspec.structs.replace(rating, counts=valid))

    def lists_of(self, followup: FollowUp) -> set[str]:
        """The sorted sets a follow-up is listed in, as it stands."""
        found: set[str] = set()
        departments = followup.departments or [followup.department]
        appealed = bool(followup.appealed_by)
        for status in ((), ("s", followup.status)):
            found.add(self.key("fuz", *status))
            if appealed:
                found.add(self.key("fuz", "a", *status))
            for department in departments:
                found.add(self.key("fuz", "d", department, *status))
                if appealed:
                    found.add(self.key("fuz", "a", "d", department, *status))
        if followup.replied_at is not None:
            found.add(self.key("fuz", "replied"))
        return found

    def index_writes(self, followup: FollowUp, old: FollowUp | None) -> list[Write]:
        """Out of the lists it left, into those it is in now (scored by the rating's time)."""
        member, score = followup.followup_id, followup.opened_at.timestamp()
        now = self.lists_of(followup)
        left = (self.lists_of(old) - now) if old is not None else set()
        return [_zrem(key, member) for key in sorted(left)] + [_zadd(key, member, score) for key in sorted(now)]

    async def followup_changed(self, env: Envelope, event: FollowUpChanged, txn: Txn) -> None:
        followup = event.followup
        key = self.key("followup", followup.followup_id)
        raw = await txn.get(key)
        if raw is None or _followup.decode(raw).revision < followup.revision:
            txn.set(key, msgspec.json.encode(followup))
            old = _followup.decode(raw) if raw is not None else None
            for write in self.index_writes(followup, old):
                txn.write(write)
            await self._recount(txn, followup)
        index, history = self.key("followups"), self.key("history", followup.followup_id)
        of_case = self.key("followups", "case", env.case_id)
        change = msgspec.json.encode(
            Change(change=event.change, actor=env.actor.name or env.actor.id, at=env.occurred_at)
        )
        followup_id, event_id = followup.followup_id, env.event_id
        txn.write(lambda pipe: pipe.sadd(index, followup_id))
        txn.write(lambda pipe: pipe.sadd(of_case, followup_id))
        txn.write(lambda pipe: pipe.hset(history, event_id, change))

    async def served(self, redis: Redis, clerk: str) -> Served | None:
        raw = cast("bytes | None", await redis.get(self.key("served", clerk)))
        return None if raw is None else _served.decode(raw)

    async def ratings(self, redis: Redis, case_id: str | None = None, *, whole: bool = False) -> list[RatingRecorded]:
        key = self.key("all") if case_id is None else self.key("case", case_id)
        raw = cast("dict[bytes, bytes]", await redis.hgetall(key))
        found = (cast("RatingRecorded", self._shown(_rating.decode(v), whole)) for v in raw.values())
        return sorted(found, key=lambda r: r.rated_at)

    async def followup(self, redis: Redis, followup_id: str, *, whole: bool = False) -> FollowUp | None:
        raw = cast("bytes | None", await redis.get(self.key("followup", followup_id)))
        return None if raw is None else cast("FollowUp", self._shown(_followup.decode(raw), whole))

    async def followups(self, redis: Redis, case_id: str | None = None, *, whole: bool = False) -> list[FollowUp]:
        """Every follow-up, newest first, or a case's own (from its index, not a scan of all)."""
        index = self.key("followups") if case_id is None else self.key("followups", "case", case_id)
        ids = cast("set[bytes]", await redis.smembers(index))
        keys = [self.key("followup", i.decode()) for i in sorted(ids)]
        raw = cast("list[bytes | None]", await redis.mget(keys)) if keys else []
        found = (cast("FollowUp", self._shown(_followup.decode(v), whole)) for v in raw if v is not None)
        return sorted(found, key=lambda f: f.opened_at, reverse=True)

    async def ensure_indexes(self, redis: Redis) -> None:
        """A namespace kept before the sorted sets existed: build them once from the records."""

        async def build() -> None:
            async with redis.pipeline(transaction=False) as pipe:
                for followup in await self.followups(redis):
                    for write in self.index_writes(followup, None):
                        write(pipe)
                for rating in await self.ratings(redis):
                    pipe.zadd(self.key("ratingz"), {rating.rating_id: rating.rated_at.timestamp()})
                await pipe.execute()

        await ensure_index(redis, self.settings.key("gateway", "built-index", "ratings"), build)
        await ensure_index(
            redis, self.settings.key("gateway", "built-index", "rating-stats"), lambda: self.build_counters(redis)
        )

    async def build_counters(self, redis: Redis) -> None:
        """Count every stored record not counted yet (a namespace kept before the counters): each in its own
        transaction that skips a record the handlers counted meanwhile, so nothing counts twice."""

        async def count(key: str, record: RatingRecorded | FollowUp) -> None:
            async with redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        await pipe.watch(key)
                        if await pipe.get(key) is not None:
                            return
                        if isinstance(record, FollowUp):
                            new = counters.of_followup(record)
                        else:
                            bad_key = self.key("followup", record.rating_id)
                            await pipe.watch(bad_key)
                            bad = cast("bytes | None", await pipe.get(bad_key))
                            invalid = bad is not None and _followup.decode(bad).status == INVALID
                            new = counters.of_rating(record, invalid=invalid)
                        pipe.multi()
                        self.counters.apply(pipe, None, new)
                        pipe.set(key, counters.encode(new))
                        await pipe.execute()
                        return
                    except WatchError:
                        await pipe.reset()

        for followup in await self.followups(redis):
            await count(self.counters.contribution_key("f", followup.followup_id), followup)
        for rating in await self.ratings(redis):
            await count(self.counters.contribution_key("r", rating.rating_id), rating)

    async def daily_counts(self, redis: Redis, where: Filter, since: date, until: date) -> dict[str, dict[str, int]]:
        """The total counts of each day with counts from ``since`` to ``until`` within the filter (the charts)."""
        await self.ensure_indexes(redis)
        return await self.counters.daily(redis, where, since, until)

    async def statistics(self, redis: Redis, by: GroupBy, where: Filter) -> tuple[list[Figures], Figures]:
        """The groups and the total of the statistics, from the counters (see :mod:`counters`)."""
        await self.ensure_indexes(redis)
        return await self.counters.statistics(redis, by, where)

    async def followups_page(
        self,
        redis: Redis,
        limit: int,
        cursor: str = "",
        *,
        department: str = "",
        appealed: bool = False,
        status: str = "",
    ) -> tuple[list[FollowUp], Slice]:
        """A page of follow-ups, newest rating first: every one (``department`` ""), a department's, or a
        department's and every appealed one (``appealed``: the hall's 政务服务管理机构); of one status or all."""
        await self.ensure_indexes(redis)
        of_status = ("s", status) if status else ()
        if not department:
            found = await zpage(redis, self.key("fuz", *of_status), limit, cursor, newest_first=True)
        elif not appealed:
            found = await zpage(redis, self.key("fuz", "d", department, *of_status), limit, cursor, newest_first=True)
        else:
            own, every = self.key("fuz", "d", department, *of_status), self.key("fuz", "a", *of_status)
            both = self.key("fuz", "a", "d", department, *of_status)
            sizes = [await redis.zcard(k) for k in (own, every, both)]
            total = sizes[0] + sizes[1] - sizes[2]
            found = await zpage_union(redis, (own, every), limit, cursor, total=total, newest_first=True)
        return await self._followups(redis, found.ids), found

    async def _followups(self, redis: Redis, ids: list[str]) -> list[FollowUp]:
        raws = cast("list[bytes | None]", await redis.mget([self.key("followup", i) for i in ids])) if ids else []
        return [cast("FollowUp", self._shown(_followup.decode(v), False)) for v in raws if v is not None]

    async def corrections_page(self, redis: Redis, limit: int, cursor: str = "") -> tuple[list[FollowUp], Slice]:
        """The answered bad reviews (公示), newest rating first."""
        await self.ensure_indexes(redis)
        found = await zpage(redis, self.key("fuz", "replied"), limit, cursor, newest_first=True)
        return await self._followups(redis, found.ids), found

    async def ratings_page(self, redis: Redis, limit: int, cursor: str = "") -> tuple[list[RatingRecorded], Slice]:
        """Every rating, newest first (公示: masked)."""
        await self.ensure_indexes(redis)
        found = await zpage(redis, self.key("ratingz"), limit, cursor, newest_first=True)
        values = cast("list[bytes | None]", await redis.hmget(self.key("all"), found.ids)) if found.ids else []
        shown = [cast("RatingRecorded", self._shown(_rating.decode(v), False)) for v in values if v is not None]
        return shown, found

    async def history(self, redis: Redis, followup_id: str) -> list[Change]:
        raw = cast("dict[bytes, bytes]", await redis.hgetall(self.key("history", followup_id)))
        return sorted((_change.decode(v) for v in raw.values()), key=lambda c: c.at)
