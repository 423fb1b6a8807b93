"""The window's intake counts (受理数, 一次告知数, 不予受理数 today, this month, this year) are nine counters read
at once, whatever the history; a namespace kept before them has its per-day counts summed into them once."""

from __future__ import annotations

from datetime import date

import msgspec
import pytest
from redis.asyncio import Redis

from services.gateway.desk.dossier import Dossiers
from shared.settings import HallSettings

pytestmark = pytest.mark.integration
TODAY = date(2027, 3, 15)


async def test_per_day_counts_of_an_older_namespace_become_the_periods_counters(settings: HallSettings) -> None:
    ours = msgspec.structs.replace(settings, namespace=f"{settings.namespace}tally")
    dossiers = Dossiers(ours)
    redis = Redis.from_url(ours.redis_url)
    try:
        await redis.hset(
            dossiers.key("intake-counts"),
            mapping={
                "2027-03-15|旗政务服务中心|受理": 3,
                "2027-03-15|巴彦镇便民服务中心|受理": 2,
                "2027-03-02|旗政务服务中心|一次告知": 4,
                "2027-01-20|旗政务服务中心|不予受理": 1,
                "2026-12-31|旗政务服务中心|受理": 7,  # last year: in no period
            },
        )
        county = await dossiers.counts(redis, TODAY)
        assert [(c.period, c.accepted, c.notices, c.refused) for c in county] == [
            ("今日", 5, 0, 0),
            ("本月", 5, 4, 0),
            ("本年", 5, 4, 1),
        ]
        town = await dossiers.counts(redis, TODAY, "巴彦镇便民服务中心")
        assert [(c.period, c.accepted, c.notices, c.refused) for c in town] == [
            ("今日", 2, 0, 0),
            ("本月", 2, 0, 0),
            ("本年", 2, 0, 0),
        ]
        # Summed once: reading again does not count them twice.
        assert await dossiers.counts(redis, TODAY) == county
    finally:
        await redis.aclose()
