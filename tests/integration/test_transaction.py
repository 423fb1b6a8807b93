"""The consume path's round trips (shared/transaction.py) against the real Redis: the MULTI/EXEC in the same bytes
as redis-py would send, every write applied at once, a watched key changed meanwhile or a failing command reported
as before; a WATCH and its read in one round trip, watching as redis-py's would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError, WatchError

from shared import transaction
from shared.settings import HallSettings


@pytest.fixture
async def redis(settings: HallSettings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    yield client
    await client.aclose()


def key(settings: HallSettings, name: str) -> str:
    return settings.key("txn-test", uuid.uuid4().hex[:8], name)


def test_pack_is_what_redis_py_sends() -> None:
    client = Redis()
    commands = [
        ("SET", "k", b"\x00\xffbytes", "EX", 1209600),
        ("HINCRBY", "计数", "部门|办理中", -1),
        ("ZADD", "idx", 1733011200.5, "member"),
        ("CONFIG GET", "maxmemory"),
    ]
    connection = client.connection_pool.make_connection()
    expected = b"".join(connection.pack_commands([("MULTI",), *commands, ("EXEC",)]))
    assert transaction.pack(commands, connection.encoder.encode) == expected


async def test_every_write_applies_in_one_transaction(redis: Redis, settings: HallSettings) -> None:
    watched, counts, index, value = (key(settings, n) for n in ("watched", "counts", "index", "value"))
    async with redis.pipeline(transaction=True) as pipe:
        await pipe.watch(watched)
        pipe.multi()
        pipe.hincrby(counts, "办理中", 2)
        pipe.hset(counts, mapping={"已办结": 1})
        pipe.zadd(index, {"a": 1.5, "b": 2})
        pipe.set(value, b"payload", ex=60)
        await transaction.commit(pipe)
    assert await redis.hgetall(counts) == {"办理中".encode(): b"2", "已办结".encode(): b"1"}
    assert await redis.zrange(index, 0, -1, withscores=True) == [(b"a", 1.5), (b"b", 2.0)]
    assert await redis.get(value) == b"payload"
    assert 0 < await redis.ttl(value) <= 60
    await redis.delete(counts, index, value)


async def test_a_watched_key_changed_meanwhile_applies_nothing(redis: Redis, settings: HallSettings) -> None:
    watched, written = key(settings, "watched"), key(settings, "written")
    async with redis.pipeline(transaction=True) as pipe:
        await pipe.watch(watched)
        await redis.set(watched, b"another instance")  # a second client changes the watched key
        pipe.multi()
        pipe.set(written, b"x")
        with pytest.raises(WatchError):
            await transaction.commit(pipe)
    assert await redis.exists(written) == 0
    await redis.delete(watched)


async def test_a_failing_command_raises_and_the_connection_stays_usable(redis: Redis, settings: HallSettings) -> None:
    watched, text, after = key(settings, "watched"), key(settings, "text"), key(settings, "after")
    await redis.set(text, b"not a hash")
    async with redis.pipeline(transaction=True) as pipe:
        await pipe.watch(watched)
        pipe.multi()
        pipe.hincrby(text, "f", 1)  # WRONGTYPE at EXEC
        pipe.set(after, b"applied")  # MULTI/EXEC does not roll back: this one is written, as with redis-py
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await transaction.commit(pipe)
    async with redis.pipeline(transaction=True) as pipe:
        await pipe.watch(watched)
        pipe.multi()
        pipe.execute_command("NOSUCHCOMMAND", "x")  # refused when queued: EXECABORT, the first error raised
        with pytest.raises(ResponseError, match="unknown command"):
            await transaction.commit(pipe)
    assert await redis.get(after) == b"applied"
    assert await redis.ping()
    await redis.delete(text, after)


async def test_a_read_in_the_round_trip_of_its_watch_is_watched(redis: Redis, settings: HallSettings) -> None:
    text, fields, written = key(settings, "text"), key(settings, "fields"), key(settings, "written")
    await redis.set(text, b"v1")
    await redis.hset(fields, mapping={"a": "1", "b": "2"})
    async with redis.pipeline(transaction=True) as pipe:
        assert await transaction.watch_and_read(pipe, (text,), "GET", text) == b"v1"
        read = await transaction.watch_and_read(pipe, (fields,), "HGETALL", fields)
        assert transaction.as_dict(read) == {b"a": b"1", b"b": b"2"}
        assert await transaction.watch_and_read(pipe, (text, fields), "MGET", text, written) == [b"v1", None]
        await redis.hset(fields, "c", "3")  # another instance changes the second key read
        pipe.multi()
        pipe.set(written, b"x")
        with pytest.raises(WatchError):
            await transaction.commit(pipe)
    assert await redis.exists(written) == 0
    async with redis.pipeline(transaction=True) as pipe:  # unchanged since read: the write goes through
        assert await transaction.watch_and_read(pipe, (text,), "GET", text) == b"v1"
        pipe.multi()
        pipe.set(written, b"x")
        await transaction.commit(pipe)
    assert await redis.get(written) == b"x"
    await redis.delete(text, fields, written)


def test_a_flat_hgetall_reply_reads_as_a_dict() -> None:
    assert transaction.as_dict([b"a", b"1", b"b", b"2"]) == {b"a": b"1", b"b": b"2"}
    assert transaction.as_dict({b"a": b"1"}) == {b"a": b"1"}
    with pytest.raises(ValueError, match="shorter"):
        transaction.as_dict([b"a", b"1", b"b"])
