"""好差评 statistics from the book's counters on the real Redis equal the reference over every record.

Random ratings (首评 and 追评, given and default, charged to one or two parties: 谁办理谁负责) and their bad
reviews' follow-up revisions go through the book's own handlers (once per event, in one MULTI, as the gateway's
consumer runs them), with revisions out of order, redelivered under new event ids, some before their rating, and
bad reviews ruled 无效差评 after an appeal (some later reopened by a newer revision). For every grouping and many
filters (each dimension alone, two together, all three, periods bounded on one side or both) the counters'
Figures equal :func:`statistics.statistics` over the stored records. Then the counters are wiped and built once
from the records (a namespace kept before them): the same again.
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import msgspec
import pytest
from redis.asyncio import Redis

from services.gateway.context import Gateway
from services.gateway.ratings.book import RatingBook
from services.gateway.ratings.pages import WEEKS, weekly
from services.gateway.ratings.statistics import Figures, Filter, GroupBy, figures, statistics
from services.gateway.views.evaluation import Charge, FollowUp, FollowUpChanged, Rater, RatingRecorded, Visit
from shared.contracts import Publications
from shared.envelope import Actor, wrap
from shared.localtime import LOCAL
from shared.outbox import Txn, run_once
from shared.settings import HallSettings

pytestmark = pytest.mark.integration

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=LOCAL)
DEPARTMENTS = ("自然资源局", "税务局", "民政局")
ITEMS = (("I1", "查封登记"), ("I2", "抵押登记"), ("I3", "抵押登记"))  # two codes share a name
CLERKS = ("张敏", "王磊", "李娜", "")
LEVELS = ("非常满意", "满意", "基本满意", "不满意", "非常不满意")
SVG = "{http://www.w3.org/2000/svg}"
EVALUATION = Actor(kind="system", id="evaluation", name="评价服务")


class Fed:
    def __init__(self, book: RatingBook, redis: Redis, settings: HallSettings) -> None:
        self.book, self.redis, self.settings = book, redis, settings
        self.table = book.table()
        self.publications = Publications(settings, "test")

    async def __call__(self, payload: msgspec.Struct, case_id: str) -> None:
        env = wrap(payload, case_id=case_id, actor=EVALUATION)
        route = self.table[env.type]
        view = msgspec.json.decode(env.payload, type=route.payload)

        async def handle(txn: Txn) -> None:
            await route.handler(env, view, txn)

        await run_once(self.redis, self.settings.key("gateway", "done", env.event_id), env, handle, self.publications)


def charges(rng: random.Random) -> list[Charge]:
    window = Charge(to="窗口", department=rng.choice(DEPARTMENTS), clerk=rng.choice(CLERKS))
    if rng.random() < 0.4:
        return [window, Charge(to="办结", department=rng.choice(DEPARTMENTS), clerk=rng.choice(CLERKS))]
    return [window]


def rating(rng: random.Random, n: int, kind: str = "首评") -> RatingRecorded:
    code, name = rng.choice(ITEMS)
    charged = charges(rng) if rng.random() < 0.9 else []  # some records from before attribution
    default = kind == "首评" and rng.random() < 0.2
    level = "满意" if default else rng.choice(LEVELS)
    return RatingRecorded(
        rating_id=f"r{n}",
        case_no=f"N{n}",
        item_code=code,
        item_name=name,
        stage="办结",
        department=rng.choice(DEPARTMENTS),
        clerk=rng.choice(CLERKS),
        channel="pad",
        rater=Rater(name="评价人", real_name=True),
        level=level,
        indicators={},
        text="",
        kind=kind,
        default=default,
        bad_review=level in ("不满意", "非常不满意"),
        rated_at=T0 + timedelta(days=rng.randint(0, 75), hours=rng.randint(-12, 12)),
        charged=charged,
    )


def revisions(rng: random.Random, r: RatingRecorded) -> list[FollowUp]:
    """The revisions a bad review goes through, in order (revision 0, 1, …)."""
    first = FollowUp(
        followup_id=r.rating_id,
        case_id=f"c{r.rating_id}",
        case_no=r.case_no,
        item_code=r.item_code,
        item_name=r.item_name,
        stage=r.stage,
        department=r.department,
        clerk=r.clerk,
        level=r.level,
        text="",
        rater=r.rater,
        opened_at=r.rated_at,
        status="待核实",
        rating_id=r.rating_id if rng.random() < 0.8 else "",
        charged=r.charged,
        departments=list(dict.fromkeys(c.department for c in r.charged)),
    )
    steps = [first]
    at = r.rated_at + timedelta(hours=2)
    if rng.random() < 0.4:
        steps.append(msgspec.structs.replace(steps[-1], status="申诉中", appealed_by="u1"))
        upheld = rng.random() < 0.6
        steps.append(msgspec.structs.replace(steps[-1], status="无效差评" if upheld else "整改中"))
        if upheld and rng.random() < 0.3:  # a later revision puts it back (a correction of the ruling)
            steps.append(msgspec.structs.replace(steps[-1], status="整改中"))
    else:
        steps.append(msgspec.structs.replace(steps[-1], status="整改中", reply="已核实", replied_at=at))
    if steps[-1].status == "整改中" and rng.random() < 0.7:
        visit = Visit(method="电话", note="", by="u1", at=at) if rng.random() < 0.8 else None
        closed = rng.choice(("整改完成", "整改完成", "无法整改"))
        steps.append(msgspec.structs.replace(steps[-1], status=closed, visit=visit, closed_at=at))
        if rng.random() < 0.6:
            steps.append(msgspec.structs.replace(steps[-1], correction_level=rng.choice(LEVELS)))
    return [msgspec.structs.replace(s, revision=i) for i, s in enumerate(steps)]


def queries() -> list[tuple[GroupBy, Filter]]:
    filters = [
        Filter(),
        Filter(department="税务局"),
        Filter(item="I2"),
        Filter(clerk="张敏"),
        Filter(department="自然资源局", clerk="王磊"),
        Filter(department="民政局", item="I1"),
        Filter(item="I3", clerk="李娜"),
        Filter(department="税务局", item="I2", clerk="张敏"),
        Filter(since=date(2027, 3, 20)),
        Filter(until=date(2027, 4, 2)),
        Filter(since=date(2027, 3, 10), until=date(2027, 4, 10), department="民政局"),
        Filter(since=date(2027, 3, 15), until=date(2027, 3, 15)),
        Filter(department="无此部门"),
    ]
    groupings: list[GroupBy] = ["all", "department", "item", "clerk", "period"]
    return [(by, where) for where in filters for by in groupings]


async def agree(book: RatingBook, redis: Redis) -> int:
    """Every query's counters equal the reference; how many groups with a bad review were compared."""
    records, followups = await book.ratings(redis), await book.followups(redis)
    compared = 0
    for by, where in queries():
        groups, total = await book.statistics(redis, by, where)
        expected = statistics(records, followups, by, where)
        (expected_total,) = statistics(records, followups, "all", where) or [figures("合计", [], [])]
        assert groups == expected, (by, where)
        assert total == expected_total, (by, where)
        compared += sum(g.bad_reviews + g.invalid > 0 for g in groups)
    return compared


async def weekly_charts_agree(book: RatingBook, redis: Redis) -> None:
    """The statistics page's weekly charts (好评率, 差评数, 回访整改率) follow its filters: each week's point is the
    reference's figure over that week's records within the filter."""
    records, followups = await book.ratings(redis), await book.followups(redis)
    hall = cast("Gateway", SimpleNamespace(redis=redis))
    for where in (Filter(department="税务局", since=date(2027, 3, 3), until=date(2027, 5, 5)), Filter(item="I2")):
        drawn = await weekly(book, hall, where, date(2027, 5, 20))
        until = where.until or date(2027, 5, 20)
        since = where.since or until - timedelta(days=until.weekday()) - timedelta(weeks=WEEKS - 1)
        monday = since - timedelta(days=since.weekday())
        expected_bad, expected_good, expected_visit = [], [], []
        while monday <= until:
            week = msgspec.structs.replace(
                where, since=max(monday, since), until=min(monday + timedelta(days=6), until)
            )
            (f,) = statistics(records, followups, "all", week) or [figures("合计", [], [])]
            label = f"{monday:%m-%d}"
            expected_bad.append(f"{label}：{f.bad_reviews} 件")
            if f.good_rate is not None:
                expected_good.append(f"{label}：{f.good_rate * 100:.1f} %")
            if f.visit_correction_rate is not None:
                expected_visit.append(f"{label}：{f.visit_correction_rate * 100:.1f} %")
            monday += timedelta(weeks=1)
        assert titles(drawn["bad"]) == expected_bad
        assert titles(drawn["good"]) == expected_good
        assert titles(drawn["visit"]) == expected_visit
        assert len(expected_good) > 5
        assert sum(not t.endswith("：0 件") for t in expected_bad) > 3


def titles(markup: str) -> list[str]:
    """The titles of a chart's points or bars (not the chart's own)."""
    svg = ET.fromstring(markup).find(f"{SVG}svg")  # noqa: S314 - our own markup
    assert svg is not None
    found = [t.findtext(f"{SVG}title") or "" for t in svg.iter() if t.tag in (f"{SVG}circle", f"{SVG}rect")]
    return [t for t in found if t]


async def drive(fed: Fed, rng: random.Random, count: int) -> dict[str, Any]:
    """``count`` first ratings with their 追评 and follow-ups; what was sent, for the assertions."""
    events: list[tuple[float, msgspec.Struct, str]] = []  # (order key, payload, case)
    sent: dict[str, Any] = {"invalid": 0, "stale": 0}
    for n in range(count):
        first = rating(rng, n)
        order = n * 10
        case = f"c{first.rating_id}"
        events.append((order, first, case))
        if rng.random() < 0.3:
            follow = msgspec.structs.replace(
                rating(rng, n), rating_id=f"r{n}z", kind="追评", rated_at=first.rated_at + timedelta(days=1)
            )
            events.append((order + 1, follow, case))
        if not first.bad_review:
            continue
        steps = revisions(rng, first)
        sent["invalid"] += steps[-1].status == "无效差评"
        changes = [FollowUpChanged(change=s.status, followup=s) for s in steps]
        if rng.random() < 0.3:  # out of order: the newest first, an older one after it
            changes = [changes[-1], *changes[:-1]]
            sent["stale"] += 1
        if rng.random() < 0.3:  # redelivered under a new event id
            changes.append(changes[rng.randrange(len(changes))])
        before = -5 if rng.random() < 0.2 else 2  # some follow-ups before their rating
        events.extend((order + before + i * 0.1, c, case) for i, c in enumerate(changes))
    for _, payload, case in sorted(events, key=lambda e: e[0]):
        await fed(payload, case)
        if isinstance(payload, RatingRecorded) and rng.random() < 0.1:
            await fed(payload, case)  # a rating redelivered
    return sent


async def test_counters_equal_the_reference_over_every_record(settings: HallSettings) -> None:
    ours = msgspec.structs.replace(settings, namespace=f"{settings.namespace}stc")
    book = RatingBook(ours)
    redis = Redis.from_url(ours.redis_url)
    try:
        await redis.set(ours.key("gateway", "built-index", "rating-stats"), "1")  # a fresh namespace: counted live
        rng = random.Random(2027)
        sent = await drive(Fed(book, redis, ours), rng, count=160)
        assert sent["invalid"] >= 5
        assert sent["stale"] >= 5
        live = await agree(book, redis)
        assert live > 20
        await weekly_charts_agree(book, redis)
        whole, _ = await book.statistics(redis, "all", Filter())
        assert whole[0].invalid >= 5  # 无效差评 were counted apart …
        assert whole[0].services < 160  # … and their ratings left out of the services
        # A namespace kept before the counters: wiped, then built once from the stored records.
        keys = [k async for k in redis.scan_iter(match=book.key("stats", "*"), count=1000)]
        await redis.delete(*keys)
        empty: list[Figures] = (await book.statistics(redis, "all", Filter()))[0]
        assert empty == []
        await book.build_counters(redis)
        assert await agree(book, redis) == live
        await book.build_counters(redis)  # built again: every record is counted already, nothing twice
        assert await agree(book, redis) == live
    finally:
        await redis.aclose()
