"""The gateway's ``hall_clocks`` (issue 17, item 3: open clocks by status) against the SLA board's own 合计, on the
real Redis: the same sorted sets, read the same way, give the same numbers for 全部 and for a purpose filter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from redis.asyncio import Redis

from services.gateway.metrics import refresh_clocks
from services.gateway.sla.board import SlaBoard
from services.gateway.sla.counts import FROZEN
from shared import metrics
from shared.localtime import LOCAL
from shared.settings import HallSettings
from shared.sla import NORMAL, OVERDUE, WARNING
from tests.halls import fresh_settings

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=LOCAL)


@pytest.fixture
async def redis(settings: HallSettings) -> AsyncIterator[tuple[Redis, SlaBoard]]:
    ns = await fresh_settings(settings)
    client = Redis.from_url(ns.redis_url)
    try:
        yield client, SlaBoard(ns)
    finally:
        await client.aclose()


def gauge(purpose: str, status: str) -> float | None:
    return metrics.REGISTRY.get_sample_value("hall_clocks", {"purpose": purpose, "status": status})


async def test_open_clocks_by_status_match_the_boards_totals(redis: tuple[Redis, SlaBoard]) -> None:
    client, board = redis
    at = NOW.timestamp()
    hour = timedelta(hours=1).total_seconds()
    for group in ("", "办件"):
        scope = (group, "", "all", "")
        due, warn = board.counts.key("due", scope), board.counts.key("warn", scope)
        # a: overdue; b: warned, not yet overdue; c, d: normal; e: paused at 预警; f: paused at 逾期.
        await client.zadd(due, {"a": at - hour, "b": at + hour, "c": at + 9 * hour, "d": at + 9 * hour})
        await client.zadd(warn, {"a": at - 2 * hour, "b": at - hour, "c": at + 5 * hour, "d": at + 5 * hour})
        await client.zadd(due, {"e": FROZEN[WARNING], "f": FROZEN[OVERDUE]})
    await client.zadd(board.counts.key("due", ("整改", "", "all", "")), {"g": at + hour})

    await refresh_clocks(client, board.counts, NOW)

    for group, purpose in (("", "全部"), ("办件", "办件")):
        totals = (await board.counts.read(client, group, "", NOW, [])).totals
        assert (totals.normal, totals.warning, totals.overdue, totals.paused) == (2, 2, 2, 2)
        assert gauge(purpose, NORMAL) == totals.normal
        assert gauge(purpose, WARNING) == totals.warning
        assert gauge(purpose, OVERDUE) == totals.overdue
        assert gauge(purpose, "暂停") == totals.paused
    assert gauge("整改", NORMAL) == 1
    assert gauge("环节", NORMAL) == 0
