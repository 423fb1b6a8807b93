"""The department inbox pages through its open steps from the workbench's sorted sets (services/gateway/paging.py):
120 steps opened by routing's own events on the real Kafka, read back 50 at a time through the gateway's API, in
the order they were opened, none twice and none missing; a step opened later lands in its place, a decided one
leaves, one person's steps (我的待办) have their own list, a bad limit or the old page/size is a 400, and a
cursor no answer gave a 422.
我的办件, 超时督办 and the 差评整改台账 page the same way, newest first."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from redis.asyncio import Redis

from services.evaluation.messages import FollowUp, FollowUpChanged, Rater
from services.gateway.paging import zpage, zpage_union
from services.routing.messages import Limit, StepClaimed, StepDecided, StepEscalated, StepOpened
from shared import topics
from shared.envelope import Actor
from shared.localtime import LOCAL
from shared.settings import HallSettings
from tests.halls import InProcessHall, fresh_settings, in_process_hall
from tests.journeys import CLERK, all_items, auth, submit
from tests.provisional_events import Publisher
from tests.support import eventually

pytestmark = pytest.mark.integration

DEPARTMENT, STAFF_ID = "自然资源局", "zrzy-li"
STAFF = auth(STAFF_ID)
INBOX = f"/api/departments/{DEPARTMENT}/steps"
FIRST = datetime(2026, 11, 2, 9, 0, tzinfo=LOCAL)
ROUTING = Actor(kind="system", id="routing", name="审批服务")
COUNT = 120


@pytest.fixture(scope="module")
async def hall(settings: HallSettings) -> AsyncIterator[InProcessHall]:
    async with in_process_hall(await fresh_settings(settings)) as running:
        yield running


def opened(n: int, at: datetime) -> StepOpened:
    return StepOpened(
        case_no=f"1505252026110{n:07d}",
        step_id=f"page-step-{n:04d}",
        step_name="承办",
        seq=1,
        department=DEPARTMENT,
        item_code="11150525000118001",
        item_name="查封登记",
        item_case_no=f"1505252026110{n:07d}",
        stage=1,
        limit=Limit(3, "WD"),
        opened_at=at,
    )


async def pages(hall: InProcessHall, limit: int, **params: Any) -> tuple[list[list[str]], list[int]]:
    """Every page of the inbox at ``limit``: the step ids of each, and the totals they answered."""
    shown, totals, cursor = list[list[str]](), list[int](), ""
    while True:
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        response = await hall.client.get(INBOX, params=query, headers=STAFF)
        assert response.status_code == 200, response.text
        body = response.json()
        shown.append([s["step_id"] for s in body["items"]])
        totals.append(body["total"])
        cursor = body.get("next_cursor") or ""
        if not cursor:
            return shown, totals


async def test_an_inbox_of_120_steps_pages_50_at_a_time_in_opening_order(hall: InProcessHall) -> None:
    # Opened at one minute intervals, published out of order (a page follows opening time, not arrival).
    expected = [f"page-step-{n:04d}" for n in range(COUNT)]
    async with Publisher(hall.settings) as publisher:
        for n in [*range(1, COUNT, 2), *range(0, COUNT, 2)]:
            step = opened(n, FIRST + timedelta(minutes=n))
            await publisher.send(topics.ROUTING_EVENTS, step, f"page-case-{n}", actor=ROUTING)

    async def all_in() -> int | None:
        body = (await hall.client.get(INBOX, params={"limit": 1}, headers=STAFF)).json()
        return body["total"] if body["total"] == COUNT else None

    await eventually(all_in, timeout_s=60)
    shown, totals = await pages(hall, 50)
    assert [len(p) for p in shown] == [50, 50, 20]
    assert totals == [COUNT] * 3
    assert [i for page in shown for i in page] == expected  # every step once, oldest opened first

    # A step opened later but dated between two others lands between them; a decided one leaves the inbox.
    async with Publisher(hall.settings) as publisher:
        late = opened(COUNT, FIRST + timedelta(minutes=59, seconds=30))  # between 0059 and 0060
        await publisher.send(topics.ROUTING_EVENTS, late, f"page-case-{COUNT}", actor=ROUTING)
        decided = StepDecided(
            case_no=opened(3, FIRST).case_no,
            step_id="page-step-0003",
            step_name="承办",
            department=DEPARTMENT,
            item_case_no=opened(3, FIRST).case_no,
            action="通过",
            opinion="同意",
            handler_id=STAFF_ID,
            handler_name="李伟",
            decided_at=FIRST + timedelta(days=1),
        )
        await publisher.send(topics.ROUTING_EVENTS, decided, "page-case-3", actor=ROUTING)

    async def moved() -> list[list[str]] | None:
        shown, _totals = await pages(hall, 50)
        flat = [i for page in shown for i in page]
        return shown if "page-step-0003" not in flat and f"page-step-{COUNT:04d}" in flat else None

    shown = await eventually(moved, timeout_s=30)
    flat = [i for page in shown for i in page]
    assert len(flat) == COUNT
    assert len(set(flat)) == COUNT
    assert flat[flat.index("page-step-0059") + 1] == f"page-step-{COUNT:04d}"
    assert flat[flat.index(f"page-step-{COUNT:04d}") + 1] == "page-step-0060"
    assert "page-step-0002" in shown[0]
    assert "page-step-0004" in shown[0]


async def test_the_inbox_page_shows_the_count_and_pages_on(hall: InProcessHall) -> None:
    """The workbench page: 共 N 件, the first 50 steps, 下一页 to the next 50 (加载中… while it loads, hall.js)."""
    first = await hall.client.get("/workbench/", headers=STAFF)
    assert first.status_code == 200, first.text
    assert f"共 {COUNT} 件，本页 50 件" in first.text
    assert "page-step-0000" in first.text
    assert "page-step-0051" not in first.text
    link = re.search(r'href="(/workbench/\?[^"]*cursor=[^"]+)"[^>]*rel="next"', first.text)
    assert link is not None, first.text
    second = await hall.client.get(link.group(1).replace("&amp;", "&"), headers=STAFF)
    assert "page-step-0051" in second.text
    assert "page-step-0000" not in second.text
    assert "第一页" in second.text


async def test_my_steps_are_a_list_of_their_own(hall: InProcessHall) -> None:
    async with Publisher(hall.settings) as publisher:
        for n in (500, 501):
            await publisher.send(topics.ROUTING_EVENTS, opened(n, FIRST - timedelta(days=1, minutes=-n)), f"mine-{n}")
        claimed = StepClaimed(
            case_no=opened(501, FIRST).case_no,
            step_id="page-step-0501",
            step_name="承办",
            department=DEPARTMENT,
            assignee_id=STAFF_ID,
            assignee_name="李伟",
            claimed_at=FIRST,
        )
        await publisher.send(topics.ROUTING_EVENTS, claimed, "mine-501", actor=ROUTING)

    async def mine() -> list[str] | None:
        body = (await hall.client.get(INBOX, params={"mine": "true"}, headers=STAFF)).json()
        ids = [s["step_id"] for s in body["items"]]
        return ids if "page-step-0501" in ids else None

    assert await eventually(mine) == ["page-step-0501"]
    everyone = (await hall.client.get(INBOX, params={"limit": 2}, headers=STAFF)).json()
    assert [s["step_id"] for s in everyone["items"]] == ["page-step-0500", "page-step-0501"]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"limit": 0}, "limit 须在 1 到 200 之间"),
        ({"limit": 201}, "limit 须在 1 到 200 之间"),
        ({"page": 2}, "参数 page 已停用"),
        ({"size": 10}, "参数 size 已停用"),
    ],
)
async def test_a_bad_limit_cursor_or_old_parameter_is_a_400_naming_it(
    hall: InProcessHall, params: dict[str, Any], reason: str
) -> None:
    response = await hall.client.get(INBOX, params=params, headers=STAFF)
    assert response.status_code == 400, response.text
    assert reason in response.text


@pytest.mark.parametrize("cursor", ["not-a-cursor!", "WzEuMF0"])  # the second: base64 of [1.0], no id
async def test_a_cursor_no_answer_gave_is_a_422(hall: InProcessHall, cursor: str) -> None:
    response = await hall.client.get(INBOX, params={"cursor": cursor}, headers=STAFF)
    assert response.status_code == 422, response.text
    assert "cursor 无效" in response.text


async def test_my_cases_page_newest_first_with_a_count(hall: InProcessHall) -> None:
    """我的办件 (the clerk's own cases, 首问负责) pages from the clerk's index, newest first, with 共 N 件."""
    submitted = [await submit(hall.client) for _ in range(3)]

    async def listed() -> str | None:
        page = await hall.client.get("/desk/cases", params={"limit": 2}, headers=CLERK)
        assert page.status_code == 200, page.text
        return page.text if "共 3 件" in page.text else None

    first = await eventually(listed)
    assert submitted[2] in first
    assert submitted[1] in first
    assert submitted[0] not in first
    cursor = re.search(r'href="/desk/cases\?cursor=([^"&]+)&amp;limit=2"', first)
    assert cursor is not None, first
    second = await hall.client.get("/desk/cases", params={"limit": 2, "cursor": cursor.group(1)}, headers=CLERK)
    assert submitted[0] in second.text
    assert submitted[2] not in second.text
    assert 'rel="next"' not in second.text  # the last page
    bad = await hall.client.get("/desk/cases", params={"cursor": "nope"}, headers=CLERK)
    assert bad.status_code == 422


def followup(n: int, department: str, *, status: str = "待核实", appealed: bool = False, revision: int = 1) -> Any:
    return FollowUp(
        followup_id=f"page-fu-{n:03d}",
        case_id=f"page-fu-case-{n}",
        case_no=f"1505252026111{n:07d}",
        item_code="11150525000118001",
        item_name="查封登记",
        stage="受理",
        department=department,
        clerk="clerk-zhang",
        rating_id=f"page-rating-{n}",
        level="不满意",
        text="等候太久",
        rater=Rater(kind="applicant", name="王芳", real_name=True),
        region_code="150525",
        opened_at=FIRST + timedelta(hours=n),
        status=status,  # type: ignore[arg-type]
        appealed_by="zrzy-boss" if appealed else "",
        appeal_reason="已按时办结" if appealed else "",
        revision=revision,
    )


async def test_the_followup_ledger_pages_what_each_reader_may_see(hall: InProcessHall) -> None:
    """差评整改台账: a department's own, newest first; the hall's 政务服务管理机构 its own and every appealed one
    (once each); a status filter; a change of status moves the follow-up between the lists."""
    hall_dept = "行政审批和政务服务局"
    charged = [(1, DEPARTMENT, False), (2, DEPARTMENT, True), (3, hall_dept, False), (4, DEPARTMENT, False)]
    async with Publisher(hall.settings) as publisher:
        for n, department, appealed in charged:
            status = "申诉中" if appealed else "待核实"
            change = FollowUpChanged(change="差评", followup=followup(n, department, status=status, appealed=appealed))
            await publisher.send(topics.EVALUATION_EVENTS, change, f"page-fu-case-{n}", actor=ROUTING)

    async def listed(user: str, **params: Any) -> list[str] | None:
        items = await all_items(hall.client, f"/api/ratings/followups?{urlencode(params)}", auth(user))
        return [f["followup_id"] for f in items]

    async def all_four() -> list[str] | None:
        found = await listed("op-qian")
        return found if found is not None and len(found) == 4 else None

    assert await eventually(all_four) == ["page-fu-004", "page-fu-003", "page-fu-002", "page-fu-001"]
    assert await listed(STAFF_ID) == ["page-fu-004", "page-fu-002", "page-fu-001"]
    assert await listed("hall-boss") == ["page-fu-003", "page-fu-002"]  # its own and the appealed one
    first = (await hall.client.get("/api/ratings/followups", params={"limit": 1}, headers=auth("hall-boss"))).json()
    assert (len(first["items"]), first["total"]) == (1, 2)
    assert await listed(STAFF_ID, status="申诉中") == ["page-fu-002"]

    async with Publisher(hall.settings) as publisher:
        moved = followup(1, DEPARTMENT, status="整改中", revision=2)
        await publisher.send(topics.EVALUATION_EVENTS, FollowUpChanged(change="核实", followup=moved), "page-fu-case-1")

    async def reclassified() -> list[str] | None:
        found = await listed(STAFF_ID, status="整改中")
        return found or None

    assert await eventually(reclassified) == ["page-fu-001"]
    assert await listed(STAFF_ID, status="待核实") == ["page-fu-004"]


async def test_escalations_page_latest_first(hall: InProcessHall) -> None:
    """超时督办 grows with history: a supervisor pages it, the latest first, each step and level once."""
    async with Publisher(hall.settings) as publisher:
        for n, level, minutes in ((0, "预警", 1), (0, "逾期", 2), (1, "逾期", 1)):
            escalated = StepEscalated(
                case_no=opened(n, FIRST).case_no,
                step_id=f"page-step-{n:04d}",
                step_name="承办",
                department=DEPARTMENT,
                level=level,
                deadline=FIRST + timedelta(days=3),
                escalated_at=FIRST + timedelta(days=3, hours=n, minutes=minutes),
            )
            await publisher.send(topics.ROUTING_EVENTS, escalated, f"page-case-{n}", actor=ROUTING)
    url = f"/api/departments/{DEPARTMENT}/escalations"

    async def all_three() -> list[dict[str, Any]] | None:
        found = await all_items(hall.client, url, auth("zrzy-boss"))
        return found if len(found) == 3 else None

    found = await eventually(all_three)
    assert [(e["step_id"], e["level"]) for e in found] == [
        ("page-step-0001", "逾期"),
        ("page-step-0000", "逾期"),
        ("page-step-0000", "预警"),
    ]
    first = (await hall.client.get(url, params={"limit": 2}, headers=auth("zrzy-boss"))).json()
    assert (len(first["items"]), first["total"], bool(first["next_cursor"])) == (2, 3, True)


async def test_pages_of_a_sorted_set_with_equal_scores_neither_repeat_nor_skip(hall: InProcessHall) -> None:
    """Items sharing a time are ordered by id, and a cursor in the middle of them goes on after the right one,
    in either direction; the union of two lists shows an item in both once."""
    redis = Redis.from_url(hall.settings.redis_url)
    key, other = hall.settings.key("gateway", "test-zpage"), hall.settings.key("gateway", "test-zpage-2")
    try:
        scores = {f"m{n}": 1_764_579_600.123456 + (n // 4) for n in range(10)}  # four share each time
        await redis.zadd(key, scores)
        ascending = sorted(scores, key=lambda m: (scores[m], m))
        for newest_first, expected in ((False, ascending), (True, list(reversed(ascending)))):
            shown, cursor = list[str](), ""
            while True:
                page = await zpage(redis, key, 3, cursor, newest_first=newest_first)
                assert page.total == 10
                shown += page.ids
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            assert shown == expected
        await redis.zadd(other, {"m2": scores["m2"], "x": 1.0})
        union, cursor = list[str](), ""
        while True:
            page = await zpage_union(redis, (key, other), 4, cursor, total=11)
            union += page.ids
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert union == ["x", *ascending]
    finally:
        await redis.delete(key, other)
        await redis.aclose()
