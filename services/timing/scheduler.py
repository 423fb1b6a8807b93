"""Raises each clock's alerts when they come due: once per clock and level, whatever crashes or instances.

Every timing instance polls the due set. A Lua script moves due clocks to the in-flight set with a lease, so
of several instances exactly one takes each; a lease that runs out (the instance died) lets another take it.
The alert itself goes out through timing's outbox with a marker per (clock, level): the clock's new state
(the level raised, its next level in the due set), the marker and the ``ClockAlerted`` record staged in the
outbox commit in one Redis transaction (WATCHing the clocks and markers; a chunk of clocks shares one
transaction), then the records are published and leave the outbox. A record whose publication failed (Kafka
down) stays there and is published by the next flush; a retry of the chunk finds the marker and re-publishes
the same record, with the same id.

The same loop notices a change of the calendar's years (within ``refresh_s``) and has the clocks that used a
provisional year revised (:mod:`services.timing.revision`), and flushes the outbox every ``flush_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, cast

import msgspec
from redis.exceptions import WatchError

from services.timing import clocks as c
from services.timing.clocks import ClockState
from services.timing.engine import Engine
from services.timing.messages import ClockAlerted
from services.timing.outbox import Outbox
from services.timing.revision import Reviser
from services.timing.store import CLAIM, RELEASE, Keys, decode_clock, encode_clock
from shared import metrics, topics
from shared.clock import SYSTEM_CLOCK, Clock
from shared.envelope import SYSTEM, encode, wrap
from shared.kafka import ServiceRuntime
from shared.outbox import MARKER_TTL_S, Outgoing
from shared.retry import Backoff, Retries

log = logging.getLogger("hall.timing.scheduler")
_outgoing = msgspec.json.Decoder(list[Outgoing])


class Fired(msgspec.Struct, frozen=True):
    """An alert raised: for the benchmark's lateness figures."""

    clock_id: str
    level: str
    due_at: datetime
    fired_at: datetime


class Scheduler:
    def __init__(
        self,
        runtime: ServiceRuntime,
        engine: Engine,
        clock: Clock,
        *,
        poll_s: float = 0.1,
        batch: int = 1000,
        chunk: int = 25,
        parallel: int = 8,
        lease_s: float = 30.0,
        refresh_s: float = 1.0,
        flush_s: float = 5.0,
        on_fire: Callable[[Fired], None] | None = None,
    ) -> None:
        self.runtime = runtime
        self.engine = engine
        self.clock = clock
        self.keys = Keys(runtime.settings)
        self.events = runtime.settings.topic(topics.TIMING_EVENTS)
        self.poll_s, self.batch, self.chunk, self.lease_s, self.refresh_s = poll_s, batch, chunk, lease_s, refresh_s
        self.flush_s = flush_s
        self.outbox = Outbox(runtime)
        self.reviser = Reviser(runtime, engine, clock, self.outbox)
        self.before_first_tick: list[Callable[[], Awaitable[object]]] = []
        self.on_fire = on_fire
        self._slots = asyncio.Semaphore(parallel)
        self._chunks: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._scripts: dict[str, Any] = {}
        self.failures: Retries[str] = Retries(Backoff(first_s=0.1, cap_s=10.0))

    def _script(self, source: str) -> Any:
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self.runtime.redis.register_script(source)
        return script

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="timing-scheduler")

    async def stop(self) -> None:
        """Stops polling; chunks being raised finish (or their leases run out and another instance takes them).

        The loop also ends on its own at the next turn: a Kafka client may swallow a cancellation while the
        start-up work reads a topic, and stopping must not hang on that."""
        self._stopping = True
        if self._task is not None:
            while not self._task.done():
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=1.0)
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._chunks:
            # Within the process's shutdown bound (10 s): a chunk still publishing (Kafka down) is staged in the
            # outbox, and its leases run out, so another instance (or the next start) finishes it.
            await asyncio.wait(set(self._chunks), timeout=2)

    async def _run(self) -> None:
        # Alerts are published: wait until the broker has started (it offers no event to wait on).
        while not self.runtime.broker.running:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await self._first()
        refreshed = flushed = time.monotonic()
        while not self._stopping:
            try:
                if time.monotonic() - refreshed >= self.refresh_s:
                    if await self.engine.refresh(self.runtime.redis, self.keys):
                        await self.reviser.revise_official()
                    refreshed = time.monotonic()
                if time.monotonic() - flushed >= self.flush_s:
                    await self.outbox.flush()
                    flushed = time.monotonic()
                taken = await self.tick()
                pause = 0.0 if taken == self.batch else await self._until_next()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 (logged by _failed: its traceback the first time)
                await asyncio.sleep(self._failed("tick failed", exc))
                continue
            self.failures.succeeded("loop")
            await asyncio.sleep(pause)

    async def _first(self) -> None:
        """Before the first claim: what an earlier run left unpublished, the work given to do once (healing),
        and the clocks of years that became official while timing was down (a newer package)."""
        while not self._stopping:
            try:
                await self.outbox.flush(older_than_s=0)
                for work in self.before_first_tick:
                    await work()
                self.before_first_tick = []
                await self.engine.refresh(self.runtime.redis, self.keys)
                await self.reviser.revise_official()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 (logged by _failed: its traceback the first time)
                await asyncio.sleep(self._failed("start-up work failed", exc))

    def _failed(self, what: str, exc: Exception) -> float:
        """Logs a failure of the loop (Redis or Kafka down): the traceback once, then a line per retry, backing
        off from 0.1 s to 10 s; returns the pause before trying again."""
        failure = self.failures.failed("loop")
        if failure.first:
            log.error("timing scheduler: %s; trying again", what, exc_info=exc)
        else:
            log.warning(
                "timing scheduler: %s (attempt %d, failing for %.0f s), again in %.1f s: %r",
                what,
                failure.attempt,
                failure.failing_for_s,
                failure.delay_s,
                exc,
            )
        return failure.delay_s

    async def _until_next(self) -> float:
        """How long to wait before the next claim: until the earliest due clock, within [0.02 s, poll_s]."""
        earliest = cast(
            "list[tuple[bytes, float]]", await self.runtime.redis.zrange(self.keys.due, 0, 0, withscores=True)
        )
        if not earliest:
            return self.poll_s
        return min(self.poll_s, max(0.02, earliest[0][1] - self.clock.now().timestamp()))

    async def tick(self) -> int:
        """Claims what is due now and starts raising it in chunks (at most ``parallel`` chunks at a time, so
        the next claim does not wait for Kafka's acknowledgements); returns how many clocks it took."""
        # The lease is about real elapsed time across instances: the system clock (every instance shares its
        # offset), never the scheduler's own clock, which a test may hold still or move by hours.
        now, wall = self.clock.now().timestamp(), SYSTEM_CLOCK.now().timestamp()
        lease = repr(wall + self.lease_s)
        members = cast(
            "list[bytes]",
            await self._script(CLAIM)(keys=[self.keys.due, self.keys.inflight], args=[now, wall, lease, self.batch]),
        )
        ids = [member.decode() for member in members]
        for n in range(0, len(ids), self.chunk):
            await self._slots.acquire()
            task = asyncio.create_task(self._guarded(ids[n : n + self.chunk], lease))
            self._chunks.add(task)
            task.add_done_callback(self._done)
        return len(ids)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._chunks.discard(task)
        self._slots.release()

    async def _guarded(self, clock_ids: list[str], lease: str) -> None:
        try:
            fired = await self.raise_due(clock_ids)
        except Exception as exc:  # logged: the traceback once per outage, then a line each
            # What was recorded is staged in the outbox and published by a later flush; the leases run out and
            # the clocks are taken again: nothing is lost.
            failure = self.failures.failed("chunks")
            if failure.first:
                log.error("timing scheduler: raising alerts for %d clocks failed", len(clock_ids), exc_info=exc)
            else:
                log.warning(
                    "timing scheduler: raising alerts for %d clocks failed (%d times in %.0f s): %s: %s",
                    len(clock_ids),
                    failure.attempt,
                    failure.failing_for_s,
                    type(exc).__name__,
                    exc,
                )
            return
        self.failures.succeeded("chunks")
        await self._script(RELEASE)(keys=[self.keys.inflight], args=[lease, *clock_ids])
        if self.on_fire is not None:
            for alert in fired:
                self.on_fire(alert)

    async def raise_due(self, clock_ids: list[str]) -> list[Fired]:
        """Raises the due level of each clock; a clock changed meanwhile makes the chunk decide again, and a
        chunk that keeps meeting changes is halved."""
        for _ in range(3):
            try:
                return await self._raise(clock_ids)
            except WatchError:
                continue
        if len(clock_ids) == 1:
            raise RuntimeError(f"clock {clock_ids[0]} keeps changing; its alert is tried again later")
        half = len(clock_ids) // 2
        return [*await self.raise_due(clock_ids[:half]), *await self.raise_due(clock_ids[half:])]

    async def _raise(self, clock_ids: list[str]) -> list[Fired]:
        """One Redis transaction for the chunk: per clock, its new state, its next level in the due set and an
        outbox marker per (clock, level) holding the alert; then the alerts are published. A marker found
        means the level was raised before (perhaps not published): its records go out again, same ids."""
        redis = self.runtime.redis
        outgoing: list[Outgoing] = []
        fired: list[Fired] = []
        pipe: Any
        async with redis.pipeline(transaction=True) as pipe:
            keys = [self.keys.clock(clock_id) for clock_id in clock_ids]
            await pipe.watch(*keys)
            raws = cast("list[bytes | None]", await pipe.mget(keys))
            now = self.clock.now()
            due: list[tuple[ClockState, str, datetime]] = []
            later: dict[str, float] = {}
            for clock_id, raw in zip(clock_ids, raws, strict=True):
                if raw is None:
                    continue
                clock = decode_clock(raw)
                upcoming = c.next_alert(clock, *self.engine.of(clock))
                if upcoming is None:
                    continue
                if upcoming[1] > now:
                    later[clock_id] = upcoming[1].timestamp()  # moved on (extended, resumed): back in the set
                else:
                    due.append((clock, *upcoming))
            markers = [self.keys.alerted(clock.clock_id, level, clock.revision) for clock, level, _ in due]
            stored: list[bytes | None] = []
            if markers:
                await pipe.watch(*markers)
                stored = cast("list[bytes | None]", await pipe.mget(markers))
            pipe.multi()
            for (clock, level, due_at), marker, old in zip(due, markers, stored, strict=True):
                if old is not None:
                    outgoing.extend(_outgoing.decode(old))
                    continue
                clock.alerted.append(level)
                following = c.next_alert(clock, *self.engine.of(clock))
                if following is not None:
                    later[clock.clock_id] = following[1].timestamp()
                records = [self._record(clock, level, due_at, now)]
                pipe.set(self.keys.clock(clock.clock_id), encode_clock(clock))
                pipe.set(marker, msgspec.json.encode(records), ex=MARKER_TTL_S)
                outgoing.extend(records)
                fired.append(Fired(clock.clock_id, level, due_at, now))
            if later:
                pipe.zadd(self.keys.due, later)
            staged = self.outbox.stage(pipe, outgoing)
            await pipe.execute()
        await self.outbox.publish(staged, outgoing)
        for alert in fired:
            metrics.alerts_fired.labels(alert.level).inc()
        return fired

    def _record(self, clock: ClockState, level: str, due_at: datetime, now: datetime) -> Outgoing:
        alert = ClockAlerted(
            clock_id=clock.clock_id,
            purpose=clock.purpose,
            case_no=clock.case_no,
            step_id=clock.step_id,
            department=clock.department,
            level=level,
            deadline=clock.promised_deadline,
            due_at=due_at,
            fired_at=now,
        )
        self.runtime.publications.check(self.events, alert)
        revision = f":{clock.revision}" if clock.revision else ""
        cause = uuid.uuid5(uuid.NAMESPACE_URL, f"timing:{clock.clock_id}:{level}{revision}").hex
        envelope = wrap(alert, case_id=clock.case_id, actor=SYSTEM, causation_id=cause, occurred_at=now)
        return Outgoing(self.events, envelope.case_id, encode(envelope))
