"""A rebuild's keys reach the real Redis as they were folded: every type, binary values, scores and lifetimes."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from shared.rebuild import CHUNK, MSET_KEYS, Memory
from shared.settings import HallSettings


async def test_every_kind_of_key_is_written_as_folded(settings: HallSettings) -> None:
    ns = f"{settings.namespace}:flush"
    memory = Memory()
    for i in range(MSET_KEYS + 3):  # more than one MSET
        memory.strings[f"{ns}:s:{i}"] = b"\x00\r\n\xff" + str(i).encode()  # bytes RESP must carry as they are
    for i in range(CHUNK + 7):  # more than one batch of commands
        memory.hashes[f"{ns}:h:{i}"] = {b"case": f"办件{i}".encode(), b"n": b"%d" % i}
    memory.hashes[f"{ns}:h:empty"] = {}
    memory.sets[f"{ns}:set"] = {b"a", b"b"}
    memory.zsets[f"{ns}:z"] = {b"early": 1.5, b"late": 1.7e12}
    memory.strings[f"{ns}:ttl"] = b"x"
    memory.ttl[f"{ns}:ttl"] = 300
    redis = Redis.from_url(settings.redis_url)
    try:
        await memory.flush(redis)
        assert await redis.get(f"{ns}:s:{MSET_KEYS + 2}") == b"\x00\r\n\xff" + str(MSET_KEYS + 2).encode()
        assert await redis.hgetall(f"{ns}:h:{CHUNK + 6}") == {
            b"case": f"办件{CHUNK + 6}".encode(),
            b"n": b"%d" % (CHUNK + 6),
        }
        assert not await redis.exists(f"{ns}:h:empty")
        assert await redis.smembers(f"{ns}:set") == {b"a", b"b"}
        assert await redis.zrange(f"{ns}:z", 0, -1, withscores=True) == [(b"early", 1.5), (b"late", 1.7e12)]
        assert 0 < await redis.ttl(f"{ns}:ttl") <= 300
        keys = [key async for key in redis.scan_iter(match=f"{ns}:*", count=1000)]
        assert len(keys) == MSET_KEYS + 3 + CHUNK + 7 + 3
        assert await redis.ping()  # the connection went back to the pool in a usable state
    finally:
        await redis.aclose()


async def test_a_refused_command_fails_the_flush_and_leaves_the_pool_usable(settings: HallSettings) -> None:
    key = f"{settings.namespace}:flush:clash"
    memory = Memory()
    memory.sets[key] = {b"m"}  # WRONGTYPE: the key holds a string
    redis = Redis.from_url(settings.redis_url)
    try:
        await redis.set(key, b"a string")
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await memory.flush(redis)
        assert await redis.get(key) == b"a string"
        assert await redis.ping()  # the half-read connection was dropped, not handed out again
    finally:
        await redis.aclose()
