"""shared/watch_built.py on the real Redis: the watch arms itself when it first sees the ``built`` key, and once
Redis answers without it the service is refused everything for good; Redis not answering is not a wipe."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis

from shared.settings import HallSettings
from shared.watch_built import BuiltWatch


async def test_a_key_gone_after_it_was_seen_is_a_wipe_and_stays_one(settings: HallSettings) -> None:
    redis = Redis.from_url(settings.redis_url)
    key = settings.key(f"w{uuid.uuid4().hex[:6]}", "built")
    watch = BuiltWatch("probe", key, lambda: redis)
    try:
        assert await watch.check()  # never built yet (a start-up rebuild is still to come): not armed
        assert not watch.armed
        assert watch.problem() is None
        await redis.set(key, "rebuilt")
        assert await watch.check()
        assert watch.armed
        await redis.delete(key)
        assert not await watch.check()
        problem = watch.problem()
        assert problem is not None
        assert "Redis 已被清空" in problem
        await redis.set(key, "someone else")  # a key back is not this process's state back: still refused
        assert not await watch.check()
    finally:
        await redis.delete(key)
        await redis.aclose()


async def test_redis_not_answering_is_an_outage_not_a_wipe(settings: HallSettings) -> None:
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    watch = BuiltWatch("probe", settings.key("probe", "built"), lambda: unreachable)
    watch.armed = True
    try:
        assert await watch.check()
        assert watch.problem() is None
    finally:
        await unreachable.aclose()
