"""Read models fed event by event in memory (no Kafka, no Redis): a handler table, the publisher's own payloads,
and a dict standing in for Redis with just the commands the read models use."""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, cast

import msgspec
from redis.asyncio import Redis

from services.gateway.sla.counts import COUNT_SCRIPT
from shared.contracts import Publications
from shared.envelope import Actor, Envelope, wrap
from shared.kafka import HandlerTable
from shared.outbox import Txn
from shared.settings import HallSettings

TIMING = Actor(kind="system", id="timing", name="计时服务")


def _bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode()


class MemoryRedis:
    """Strings, hashes, sets and sorted sets in dicts; reads are async (as redis.asyncio's), writes are queued
    commands (as on the MULTI pipeline a :class:`Txn`'s writes run on)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    # ---------------------------------------------------------------- reads (async)

    async def watch(self, *_keys: str) -> None:
        return None

    async def get(self, key: str) -> bytes | None:
        value = self.data.get(key)
        return value if isinstance(value, bytes) else None

    async def mget(self, keys: Iterable[str]) -> list[bytes | None]:
        return [await self.get(k) for k in keys]

    async def hgetall(self, key: str) -> dict[bytes, bytes]:
        return dict(self.data.get(key, {}))

    async def hget(self, key: str, field: str) -> bytes | None:
        found: bytes | None = self.data.get(key, {}).get(_bytes(field))
        return found

    async def smembers(self, key: str) -> set[bytes]:
        return set(self.data.get(key, set()))

    async def zrange(self, key: str, start: int, end: int) -> list[bytes]:
        ranked = sorted(self.data.get(key, {}).items(), key=lambda kv: (kv[1], kv[0]))
        members = [m for m, _ in ranked]
        return members[start : None if end == -1 else end + 1]

    async def zrevrange(self, key: str, start: int, end: int) -> list[bytes]:
        members = list(reversed(await self.zrange(key, 0, -1)))
        return members[start : None if end == -1 else end + 1]

    async def zrangebylex(
        self, key: str, low: str, high: str, start: int | None = None, num: int | None = None
    ) -> list[bytes]:
        members = sorted(m for m in self.data.get(key, {}) if _in_lex(m, low, high))
        first = start or 0
        return members[first : None if num is None else first + num]

    async def zrangebyscore(self, key: str, low: float | str, high: float | str) -> list[bytes]:
        ranked = sorted(self.data.get(key, {}).items(), key=lambda kv: (kv[1], kv[0]))
        return [m for m, score in ranked if float(low) <= score <= float(high)]

    async def zlexcount(self, key: str, low: str, high: str) -> int:
        return len(await self.zrangebylex(key, low, high))

    async def exists(self, *keys: str) -> int:
        return sum(1 for k in keys if k in self.data)

    async def zcard(self, key: str) -> int:
        return len(self.data.get(key, {}))

    async def zcount(self, key: str, low: float | str, high: float | str) -> int:
        return sum(1 for s in self.data.get(key, {}).values() if float(low) <= s <= float(high))

    def register_script(self, source: str) -> Any:
        """A script as redis-py's ``register_script`` gives it, run by :meth:`eval`."""

        async def run(keys: list[str], args: list[str], client: object = None) -> Any:  # noqa: ARG001 (as redis-py's)
            return await self.eval(source, len(keys), *keys, *args)

        return run

    async def eval(self, source: str, numkeys: int, *keys_and_args: object) -> Any:
        """The SLA board's count script (``counts.COUNT_SCRIPT``), run as Redis runs it; no other script."""
        if source != COUNT_SCRIPT:
            raise NotImplementedError("MemoryRedis runs only the board's count script")
        keys, args = [str(k) for k in keys_and_args[:numkeys]], [str(a) for a in keys_and_args[numkeys:]]
        now, scopes, frozen = args[0], int(args[1]), args[2:]
        out: list[int] = []
        for i in range(scopes):
            due, warn = keys[2 * i], keys[2 * i + 1]
            out += [await self.zcount(due, 0, now), await self.zcount(warn, "-inf", now)]
            out += [await self.zcount(due, 0, "+inf"), *[await self.zcount(due, f, f) for f in frozen]]
        out += [await self.zcard(key) for key in keys[2 * scopes :]]
        return out

    def keys_like(self, pattern: str) -> list[str]:
        return [k for k in self.data if fnmatch.fnmatch(k, pattern)]

    def pipeline(self, transaction: bool = False) -> _ReadPipeline:  # noqa: ARG002 (as redis.asyncio's)
        return _ReadPipeline(self)

    # ---------------------------------------------------------------- writes (queued by a Txn, run at once here)

    def set(self, key: str, value: object) -> _Done:
        """Written at once; awaitable too, for code that sets a marker outside a Txn (``await redis.set``)."""
        self.data[key] = _bytes(value)
        return _Done()

    def delete(self, *keys: str) -> None:
        for key in keys:
            self.data.pop(key, None)

    def hset(
        self, key: str, field: object = None, value: object = None, mapping: Mapping[Any, Any] | None = None
    ) -> None:
        found = self.data.setdefault(key, {})
        if field is not None:
            found[_bytes(field)] = _bytes(value)
        for f, v in (mapping or {}).items():
            found[_bytes(f)] = _bytes(v)

    def hincrby(self, key: str, field: str, by: int) -> None:
        found = self.data.setdefault(key, {})
        found[_bytes(field)] = str(int(found.get(_bytes(field), b"0")) + by).encode()

    def sadd(self, key: str, *members: object) -> None:
        self.data.setdefault(key, set()).update(_bytes(m) for m in members)

    def srem(self, key: str, *members: object) -> None:
        self.data.setdefault(key, set()).difference_update(_bytes(m) for m in members)

    def zadd(self, key: str, scores: Mapping[str | bytes, float], *, gt: bool = False) -> None:
        members = self.data.setdefault(key, {})
        for m, s in scores.items():
            if not gt or s > members.get(_bytes(m), float("-inf")):
                members[_bytes(m)] = s

    def zrem(self, key: str, *members: object) -> None:
        for m in members:
            self.data.setdefault(key, {}).pop(_bytes(m), None)


class _Done:
    """An awaitable that is already done (a write that ran at once)."""

    def __await__(self) -> Iterator[None]:
        return iter(())


def _in_lex(member: bytes, low: str, high: str) -> bool:
    """ZRANGEBYLEX's bounds: ``-``/``+``, ``[x`` inclusive, ``(x`` exclusive."""
    if low != "-":
        bound = low[1:].encode()
        if member < bound or (low[0] == "(" and member == bound):
            return False
    if high != "+":
        bound = high[1:].encode()
        if member > bound or (high[0] == "(" and member == bound):
            return False
    return True


class _ReadPipeline:
    def __init__(self, redis: MemoryRedis) -> None:
        self.redis = redis
        self.reads: list[Any] = []

    def hgetall(self, key: str) -> None:
        self.reads.append(self.redis.hgetall(key))

    def __getattr__(self, name: str) -> Any:
        """Any other command the read models batch (zlexcount, zcard, zcount …; writes run at once)."""
        command = getattr(self.redis, name)
        return lambda *args, **kwargs: self.reads.append(command(*args, **kwargs))

    async def execute(self) -> list[Any]:
        return [await read if inspect.isawaitable(read) else read for read in self.reads]

    async def __aenter__(self) -> _ReadPipeline:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None


class Feed:
    """Feeds one read model's handler table, as its consumer would, and keeps what it emitted."""

    def __init__(
        self,
        table: HandlerTable,
        settings: HallSettings,
        redis: MemoryRedis | None = None,
        publications: Publications | None = None,
    ) -> None:
        self.table = table
        self.redis = redis or MemoryRedis()
        self.reads = cast("Redis", self.redis)  # what the read models' queries take
        self.publications = publications or Publications(settings, "test")
        self.emitted: list[Envelope] = []

    async def __call__(
        self, payload: msgspec.Struct, case_id: str, *, at: datetime | None = None, actor: Actor = TIMING
    ) -> Envelope:
        """``payload`` is the publisher's own struct: the consumer's view decodes it from the JSON it sends."""
        env = wrap(payload, case_id=case_id, actor=actor, occurred_at=at)
        route = self.table.get(env.type)
        if route is None:
            return env
        view = msgspec.json.decode(env.payload, type=route.payload)
        txn = Txn(cast("Any", self.redis), env, self.publications)
        await route.handler(env, view, txn)
        for write in txn.writes:
            write(cast("Any", self.redis))
        self.emitted.extend(msgspec.json.decode(o.value, type=Envelope) for o in txn.outgoing)
        return env
