"""Batched consumption in lanes: records of one key strictly in order, different keys at once.

A consumer takes records in batches (:meth:`Lanes.take`). Each record joins the lane of its partition and key; a
lane hands its records one at a time, in offset order, to the handler, and up to ``concurrency`` lanes of a
consumer run at once. A record that cannot be handled yet (it waits for another: ``NotYet``) or fails for a
transient reason *parks* its lane: the later records of that key wait behind it, in memory, while other keys go
on; a parked lane is tried again after its backoff, or sooner (``NotYet`` only) when some other record of the
service has been handled, since what it waits for usually arrives as another record. Nothing sleeps in the fetch
loop and nothing seeks back.

The offsets committed per partition stop at the lowest record not finished (:class:`shared.offsets.OffsetBook`).
When more than ``max_held`` records are taken and not finished, the consumer pauses fetching until half of them
are done. On a revocation, the revoked partitions' lanes stop: a record being handled gets ``drain_s`` to finish
(then it is cancelled), parked and queued records are dropped, and the next owner reads them again from the
committed offset (handlers are idempotent through their markers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from shared.offsets import OffsetBook

log = logging.getLogger("hall.lanes")

# A parked lane waiting for another record is woken by others' progress at most this often.
WAKE_GAP_S = 0.02
# Fetching paused this long because too many records wait: /health says so.
PAUSED_PROBLEM_S = 60.0


@dataclass(frozen=True)
class Park:
    """The record is not done: try it again after ``delay_s`` (sooner on progress when ``waits``: after its
    ``attempt``-th failure, not before ``WAKE_GAP_S × 2^(attempt-1)``, so a key that keeps waiting on a busy
    service is tried about as often as its backoff says)."""

    delay_s: float
    waits: bool = False
    attempt: int = 1


Handle = Callable[[ConsumerRecord[Any, Any]], Awaitable[Park | None]]
LaneKey = tuple[str, int, bytes | None]


class Progress:
    """Tells parked lanes that records were handled, at most once per ``gap_s`` (their retries stay bounded)."""

    def __init__(self, gap_s: float = WAKE_GAP_S) -> None:
        self.gap_s = gap_s
        self._event = asyncio.Event()
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.waiting = 0  # lanes parked on it
        self.fired = 0

    def notify(self) -> None:
        if not self.waiting or self._timer is not None:
            return
        since = time.monotonic() - self._last
        if since >= self.gap_s:
            self._fire()
        else:
            self._timer = asyncio.get_running_loop().call_later(self.gap_s - since, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._last = time.monotonic()
        self.fired += 1
        event, self._event = self._event, asyncio.Event()
        event.set()

    def event(self) -> asyncio.Event:
        return self._event


class _Lane:
    __slots__ = ("closed", "key", "records", "task", "wake")

    def __init__(self, key: LaneKey) -> None:
        self.key = key
        self.records: deque[ConsumerRecord[Any, Any]] = deque()
        self.task: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()  # set to end a parked wait at once (stop, revocation)
        self.closed = False


class Lanes:
    """One consumer's lanes (see the module's doc)."""

    def __init__(
        self,
        name: str,
        handle: Handle,
        book: OffsetBook,
        *,
        concurrency: int,
        max_held: int,
        progress: Progress,
        stopping: asyncio.Event,
        drain_s: float = 3.0,
    ) -> None:
        self.name = name
        self._handle = handle
        self._book = book
        self._slots = asyncio.Semaphore(concurrency)
        self.max_held = max_held
        self._progress = progress
        self._stopping = stopping
        self.drain_s = drain_s
        self._lanes: dict[LaneKey, _Lane] = {}
        self._revoked: set[TopicPartition] = set()
        self._consumer: AIOKafkaConsumer | None = None
        self.held = 0  # records taken and not finished
        self.parked = 0  # lanes waiting to try their first record again
        self._paused: set[TopicPartition] = set()
        self.paused_since: float | None = None
        self.handled = 0  # records finished (handled, ignored or dead-lettered), for tests and measurements
        self.dropped = 0  # records given up at a revocation (the next owner reads them again)

    def take(self, consumer: AIOKafkaConsumer, records: Iterable[ConsumerRecord[Any, Any]]) -> int:
        """Queue a fetched batch in its lanes (never waits); returns how many records were taken."""
        if self._stopping.is_set():
            return 0  # shutting down: never taken, never committed; the next owner reads them
        self._consumer = consumer
        assigned = consumer.assignment()
        count = 0
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            if tp in self._revoked or tp not in assigned or not self._book.taken(record):
                continue  # fetched before a rebalance: not ours now, or taken already
            key = (record.topic, record.partition, record.key)
            lane = self._lanes.get(key)
            if lane is None:
                lane = self._lanes[key] = _Lane(key)
            lane.records.append(record)
            count += 1
            if lane.task is None:
                lane.task = asyncio.create_task(self._run(lane), name=f"lane {self.name} {key[0]}/{key[1]}")
        self.held += count
        if self.held >= self.max_held and not self._paused:
            self._paused = set(assigned)
            consumer.pause(*self._paused)
            self.paused_since = time.monotonic()
            log.warning("%s: %d records held (bound %d): fetching paused", self.name, self.held, self.max_held)
        return count

    async def _run(self, lane: _Lane) -> None:
        try:
            while lane.records and not lane.closed and not self._stopping.is_set():
                record = lane.records[0]
                async with self._slots:
                    if lane.closed or self._stopping.is_set():
                        break
                    park = await self._handle(record)
                if park is None:
                    lane.records.popleft()
                    self._finished(1)
                    self.handled += 1
                    if self._consumer is not None:  # (a revoked partition's lanes end before it is forgotten)
                        self._book.done(self._consumer, record)
                    self._progress.notify()
                    continue
                await self._park(lane, park)
        finally:
            lane.task = None
            if self._lanes.get(lane.key) is lane and (lane.closed or not lane.records):
                del self._lanes[lane.key]

    async def _park(self, lane: _Lane, park: Park) -> None:
        """Waits out the backoff; a waiting record is tried again sooner when other records were handled (never
        sooner than the wake gap)."""
        self.parked += 1
        progress = self._progress
        loop = asyncio.get_running_loop()
        deadline = loop.time() + park.delay_s
        fired = progress.fired
        if park.waits:
            progress.waiting += 1
        try:
            if park.waits:
                with contextlib.suppress(TimeoutError):
                    soonest = progress.gap_s * 2 ** min(max(0, park.attempt - 1), 10)
                    await asyncio.wait_for(lane.wake.wait(), min(park.delay_s, soonest))
                if progress.fired != fired:
                    return
            while not lane.wake.is_set() and not self._stopping.is_set() and (left := deadline - loop.time()) > 0:
                waits = [asyncio.ensure_future(lane.wake.wait()), asyncio.ensure_future(self._stopping.wait())]
                if park.waits:
                    waits.append(asyncio.ensure_future(progress.event().wait()))
                try:
                    done, _ = await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiting in waits:
                        waiting.cancel()
                if done:
                    return  # progress, a revocation or a stop: the lane's loop decides
        finally:
            self.parked -= 1
            if park.waits:
                progress.waiting -= 1

    def _finished(self, count: int) -> None:
        self.held -= count
        if self._paused and self.held <= self.max_held // 2:
            consumer = self._consumer
            paused, self._paused = self._paused, set()
            self.paused_since = None
            if consumer is not None:
                consumer.resume(*(tp for tp in paused if tp in consumer.assignment()))
            log.warning("%s: %d records held: fetching resumed", self.name, self.held)

    def assigned(self, partitions: set[TopicPartition]) -> None:
        self._revoked -= partitions

    async def revoke(self, partitions: set[TopicPartition]) -> None:
        """Stops the partitions' lanes before they are given away: a record being handled gets ``drain_s`` to
        finish (its offset is then committed; past that it is cancelled), parked and queued records are dropped
        (the next owner reads them again from the committed offset)."""
        self._revoked |= partitions
        self._paused -= partitions
        lanes = [lane for key, lane in self._lanes.items() if TopicPartition(key[0], key[1]) in partitions]
        for lane in lanes:
            lane.closed = True  # the record in hand is the lane's last
            lane.wake.set()
        running = [lane.task for lane in lanes if lane.task is not None]
        if running:
            _, pending = await asyncio.wait(running, timeout=self.drain_s)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        left = 0
        for lane in lanes:
            left += len(lane.records)
            lane.records.clear()
            if self._lanes.get(lane.key) is lane:
                del self._lanes[lane.key]
        if left:
            self._finished(left)
            self.dropped += left
        if lanes:
            log.info("%s: %d partitions revoked, %d records left to their next owner", self.name, len(partitions), left)

    def halt(self) -> None:
        """Shutdown: parked lanes stop waiting (the records being handled finish; nothing more is taken)."""
        for lane in self._lanes.values():
            lane.wake.set()

    def problem(self) -> str | None:
        if self.paused_since is None:
            return None
        paused_for = time.monotonic() - self.paused_since
        if paused_for < PAUSED_PROBLEM_S:
            return None
        return (
            f"fetching paused for {paused_for:.0f} s: {self.held} records held behind {self.parked} waiting keys "
            f"(bound {self.max_held})"
        )

    def stats(self) -> dict[str, int]:
        return {"lanes": len(self._lanes), "held": self.held, "parked": self.parked, "handled": self.handled}
