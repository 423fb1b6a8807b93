"""我的办件's states come from ranks the timeline keeps (one ZMSCORE a page), not from reading every timeline.

The kept state must be what the whole timeline says (``current_state``), whatever order its entries arrive in and
however often one is handled again; a case recorded before the ranks were kept is derived once and kept.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import msgspec
import pytest
from redis.asyncio import Redis

from services.gateway.cases.timeline import RANKED, Timeline, current_state
from services.gateway.views.routing import CaseReturned
from shared.contracts import Publications
from shared.envelope import Actor, Envelope, wrap
from shared.localtime import LOCAL
from shared.outbox import Txn, run_once
from shared.settings import HallSettings

pytestmark = pytest.mark.integration

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=LOCAL)
CLERK = Actor(kind="clerk", id="clerk-zhang", name="张敏")
# What a case's entries may say: every state, and entries that say none (a clock started, a note).
SAID = (*RANKED, "", "")


async def record(timeline: Timeline, redis: Redis, settings: HallSettings, env: Envelope, state: str) -> None:
    """One entry recorded as the gateway's consumer records it: in one MULTI (``run_once``)."""

    async def handle(txn: Txn) -> None:
        timeline._record(txn, env, state, f"第 {env.event_id[:6]} 条")

    marker = settings.key("gateway", "done", f"{env.event_id}:{state}")
    await run_once(redis, marker, env, handle, Publications(settings, "test"))


@pytest.mark.parametrize("seed", [1, 2])
async def test_the_kept_states_equal_what_each_whole_timeline_says(settings: HallSettings, seed: int) -> None:
    ours = msgspec.structs.replace(settings, namespace=f"{settings.namespace}st{seed}")
    timeline = Timeline(ours)
    rng = random.Random(seed)
    redis = Redis.from_url(ours.redis_url)
    try:
        cases = [f"case{seed}-{n}" for n in range(40)]
        entries: list[tuple[Envelope, str]] = []
        for n, case_id in enumerate(cases):
            for k in range(rng.randint(0 if n % 10 == 0 else 1, 6)):
                payload = CaseReturned(case_no=f"No{n}", returned_at=T0)  # the payload is not read: any event does
                at = T0 + timedelta(minutes=k)
                entries.append((wrap(payload, case_id=case_id, actor=CLERK, occurred_at=at), rng.choice(SAID)))
        rng.shuffle(entries)  # entries of one case arrive in any order (they come from several topics)
        for env, state in entries:
            await record(timeline, redis, ours, env, state)
        for env, state in rng.sample(entries, 30):  # handled again (a marker lost): the maximum stays
            await record(timeline, redis, ours, msgspec.structs.replace(env), state)
            await timeline.states(redis, [env.case_id])

        async def derived() -> dict[str, str]:
            return {case_id: current_state(await timeline.entries(redis, case_id)) for case_id in cases}

        expected = await derived()
        assert len(set(expected.values())) >= 4, expected  # the random cases reached several states
        assert "处理中" in expected.values()  # and some said none
        assert await timeline.states(redis, cases) == expected
        page = rng.sample(cases, 7)
        assert list((await timeline.states(redis, page)).items()) == [(c, expected[c]) for c in page]

        # Cases recorded before the ranks were kept: derived from their timelines once, then kept.
        await redis.delete(ours.key("gateway", "state-rank"))
        assert await timeline.states(redis, cases) == expected
        kept = await redis.zmscore(ours.key("gateway", "state-rank"), cases)
        assert [rank is not None for rank in kept] == [expected[c] != "处理中" for c in cases]
        assert await timeline.states(redis, []) == {}
    finally:
        keys = [key async for key in redis.scan_iter(match=f"{ours.namespace}:*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
