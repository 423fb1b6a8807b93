"""Exactly-once effects over at-least-once delivery.

A handler reads state through a :class:`Txn` (every key it reads is WATCHed) and queues its writes and the
records it wants to publish. The writes, and a marker holding those records, commit in one Redis MULTI.
The records are then published (acks=all) and only after that is the Kafka offset committed. A redelivered
event finds its marker and re-publishes the same records, with the same event ids, so downstream handlers
drop them as duplicates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from shared import telemetry, transaction
from shared.contracts import Publications
from shared.envelope import Actor, Envelope, encode, wrap
from shared.replies import Refusal, reply

MARKER_TTL_S = 14 * 24 * 3600


class Outgoing(msgspec.Struct, frozen=True):
    """A record to publish once the state change is committed."""

    topic: str
    key: str
    value: bytes


Write = Callable[[Pipeline], object]


class Txn:
    """The state a handler may read and the effects it queues, for one incoming record."""

    def __init__(self, pipe: Pipeline, cause: Envelope, publications: Publications) -> None:
        self._pipe = pipe
        self.cause = cause
        self._publications = publications
        self.writes: list[Write] = []
        self.outgoing: list[Outgoing] = []

    async def get(self, key: str) -> bytes | None:
        return cast("bytes | None", await self._read("GET", key))

    async def hgetall(self, key: str) -> dict[bytes, bytes]:
        return transaction.as_dict(await self._read("HGETALL", key))

    async def _read(self, command: str, key: str) -> Any:
        """WATCH ``key`` and read it: in one round trip on Redis; a replay's memory pipe (shared/rebuild.py) and the
        tests' stores have the pipeline's methods and nothing to watch."""
        if isinstance(self._pipe, Pipeline):
            return await transaction.watch_and_read(self._pipe, (key,), command, key)
        await self._pipe.watch(key)
        return await getattr(self._pipe, command.lower())(key)

    async def next_number(self, key: str) -> int:
        """INCR outside the transaction: a retried handler may skip a number, never reuse one."""
        value: int = await self._pipe.immediate_execute_command("INCR", key)
        return value

    def write(self, write: Write) -> None:
        """Queue any other write; bind its values before the lambda, it runs after the handler returns."""
        self.writes.append(write)

    def set(self, key: str, value: bytes | str | msgspec.Struct) -> None:
        """Queue ``SET key value``; a struct is stored as JSON."""
        data = msgspec.json.encode(value) if isinstance(value, msgspec.Struct) else value
        self.writes.append(lambda pipe: pipe.set(key, data))

    def emit(
        self,
        topic: str,
        payload: msgspec.Struct,
        *,
        case_id: str | None = None,
        actor: Actor | None = None,
    ) -> Envelope:
        """Queue an event caused by the record being handled; it must be declared for the topic."""
        self._publications.check(topic, payload)
        envelope = wrap(
            payload,
            case_id=case_id or self.cause.case_id,
            actor=actor or self.cause.actor,
            causation_id=self.cause.event_id,
        )
        self.outgoing.append(Outgoing(topic, envelope.case_id, encode(envelope)))
        telemetry.note_case(str(getattr(payload, "case_no", "") or ""))  # a submission's span gets its number
        return envelope

    def answer(self, status: int, reason: str = "", *, body: msgspec.Struct | None = None) -> None:
        """Queue the reply to the command being handled, for the gateway waiting on it."""
        correlation = self.cause.event_id
        if status >= 400:
            telemetry.note_refused()
        value = reply(correlation, status, body, reason)
        self.outgoing.append(Outgoing(self._publications.replies_topic, correlation, value))

    def refuse(self, refusal: Refusal) -> None:
        """Answer the command with the refusal's status and reason."""
        self.answer(refusal.status, reason=refusal.reason)


Handle = Callable[[Txn], Awaitable[None]]
_outgoing = msgspec.json.Decoder(list[Outgoing])


async def run_once(
    redis: Redis,
    marker: str,
    cause: Envelope,
    handle: Handle,
    publications: Publications,
    *,
    guard: tuple[str, Callable[[bool], None]] | None = None,
) -> list[Outgoing]:
    """Run ``handle`` at most once per marker and return the records it wants published.

    ``guard``: a key read (and watched) with the marker, in the same round trip, and what to do knowing whether it
    is there (raise to handle nothing: the consume path's ``built`` key, shared/watch_built.py)."""
    pipe: Pipeline
    watched = (marker, guard[0]) if guard is not None else (marker,)
    async with redis.pipeline(transaction=True) as pipe:
        while True:
            try:
                stored, *guarded = cast("list[Any]", await transaction.watch_and_read(pipe, watched, "MGET", *watched))
                if guard is not None:
                    guard[1](guarded[0] is not None)
                if stored is not None:
                    return _outgoing.decode(stored)
                txn = Txn(pipe, cause, publications)
                await handle(txn)
                pipe.multi()
                for write in txn.writes:
                    write(pipe)
                pipe.set(marker, msgspec.json.encode(txn.outgoing), ex=MARKER_TTL_S)
                await transaction.commit(pipe)
                return txn.outgoing
            except WatchError:
                # Another instance touched the same case (a rebalance): read again and decide again.
                await pipe.reset()
                continue
