"""Commits of consumed offsets, batched: only offsets of records whose effects are done, every 200 ms.

A commit per record costs the broker more than the record itself. Committing the offsets of finished
records in the background keeps at-least-once delivery (nothing unfinished is ever committed) and lets a
restarted or rebalanced consumer replay at most the last interval, which idempotent handlers drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError

log = logging.getLogger("hall.offsets")


class _Taken:
    """One partition's records taken and not yet finished, in offset order: the lowest unfinished one is where a
    commit must stop (records of other keys may finish before it)."""

    __slots__ = ("finished", "next", "order", "reported")

    def __init__(self) -> None:
        self.order: deque[int] = deque()
        self.finished: set[int] = set()
        self.next = -1  # the offset to commit when nothing taken is unfinished
        self.reported = -1  # the highest offset handed to the commits so far

    def finish(self, offset: int) -> int:
        """Marks ``offset`` finished; returns the offset up to which every taken record is finished."""
        self.finished.add(offset)
        while self.order and self.order[0] in self.finished:
            done = self.order.popleft()
            self.finished.discard(done)
            self.next = done + 1
        return self.order[0] if self.order else self.next


class OffsetBook:
    """The next offset to commit per partition, for one consumer, and whether commits still move.

    A commit is bounded (``commit_s``): aiokafka retries a retriable commit error for ever, and a commit that never
    returns would freeze the committed offsets silently. ``problem()`` reports a consumer whose finished records
    have not been committed for ``stall_s`` (the broker gone, or the consumer no longer a member of its group:
    ``CommitFailedError``), for ``/health``; ``lost_membership`` tells the runtime to make it rejoin.
    """

    def __init__(self, interval_s: float = 0.2, *, commit_s: float = 10.0, stall_s: float = 60.0) -> None:
        self.interval_s = interval_s
        self.commit_s = commit_s
        self.stall_s = stall_s
        self._done: dict[TopicPartition, int] = {}
        self._taken: dict[TopicPartition, _Taken] = {}
        # Called in a rebalance before revoked partitions are committed (the runtime drains their lanes), and
        # after partitions are assigned.
        self.on_revoke: Callable[[set[TopicPartition]], Awaitable[None]] | None = None
        self.on_assign: Callable[[set[TopicPartition]], None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        # Where the consumer comes from before its first record (the subscriber's), so an idle one is watched too.
        self.consumer_source: Callable[[], AIOKafkaConsumer | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self.pending_since: float | None = None  # monotonic: the oldest finished record not yet committed
        self.last_error: str | None = None
        self.lost_membership = False  # the last commit was refused: this consumer is not in the group now
        self.commits = 0  # successful commits, for tests and the watchdog
        self.rebalances = 0
        self.rejoins = 0  # rejoins the watchdog asked for
        self._rejoined_at = -1e9
        # Called once when the consumer is beyond repair in this process (its coordination routine ended): the
        # runtime has the process restarted.
        self.on_broken: Callable[[str], None] | None = None
        self.broken = False

    @property
    def consumer(self) -> AIOKafkaConsumer | None:
        if self._consumer is None and self.consumer_source is not None:
            self._consumer = self.consumer_source()
        return self._consumer

    def taken(self, record: ConsumerRecord[Any, Any]) -> bool:
        """The record is taken to be handled (records of a partition are taken in offset order): no commit of its
        partition goes past it until it is :meth:`done`. False for a record at or below one taken already (a
        batch fetched before a rebalance and delivered after it): it is not taken twice."""
        tp = TopicPartition(record.topic, record.partition)
        taken = self._taken.get(tp)
        if taken is None:
            taken = self._taken[tp] = _Taken()
        elif (taken.order and record.offset <= taken.order[-1]) or record.offset < taken.next:
            return False
        if taken.reported < 0:
            taken.reported = record.offset  # where the partition's reading began: nothing to commit there
        taken.order.append(record.offset)
        return True

    def done(self, consumer: AIOKafkaConsumer, record: ConsumerRecord[Any, Any]) -> None:
        """The record's effects are done: the finished prefix of its partition may be committed."""
        self._consumer = consumer
        tp = TopicPartition(record.topic, record.partition)
        taken = self._taken.get(tp)
        if taken is None:  # not taken through :meth:`taken`: records are done in order
            upto = record.offset + 1
        else:
            upto = taken.finish(record.offset)
            if upto <= taken.reported:
                return  # an earlier record of the partition is still being handled
            taken.reported = upto
        self._done[tp] = upto
        if self.pending_since is None:
            self.pending_since = time.monotonic()

    def committable(self) -> dict[TopicPartition, int]:
        """The offsets the next flush commits, per partition."""
        return dict(self._done)

    def unfinished(self, tp: TopicPartition) -> int:
        """How many records of ``tp`` are taken and not finished."""
        taken = self._taken.get(tp)
        return 0 if taken is None else len(taken.order) - len(taken.finished)

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """The partitions are gone to another owner: what was taken of them is not ours to commit."""
        for tp in partitions:
            self._taken.pop(tp, None)
            self._done.pop(tp, None)
        if not self._done:
            self.pending_since = None

    def stalled_s(self) -> float:
        """How long finished records have waited for a commit (0 when nothing waits)."""
        return 0.0 if self.pending_since is None else time.monotonic() - self.pending_since

    def problem(self) -> str | None:
        """A health problem when finished records have waited longer than ``stall_s`` for their commit, or the
        consumer's heartbeat has stopped (it is dropped from its group)."""
        if (failure := self.coordination_failure()) is not None:
            return f"group coordination ended ({failure}): restarting"
        if self.heartbeat_failure() is not None:
            return f"group heartbeat stopped ({self.heartbeat_failure()})"
        waited = self.stalled_s()
        if waited < self.stall_s:
            return None
        why = "not a member of its group" if self.lost_membership else (self.last_error or "no answer")
        return f"offsets not committed for {waited:.0f} s ({why})"

    def heartbeat_failure(self) -> str | None:
        """Why the consumer's heartbeat task ended, if it ended with an error.

        aiokafka ends that task on a heartbeat answer it does not expect (e.g. the coordinator still loading after
        a broker restart) and starts it again only after a rejoin, which nothing asks for while the consumer goes
        on fetching its old assignment: the broker drops the member, the group is empty. (aiokafka's private
        attributes, read defensively: None when they are not there.)
        """
        coordinator = getattr(self.consumer, "_coordinator", None)
        task = getattr(coordinator, "_heartbeat_task", None)
        if not isinstance(task, asyncio.Task) or not task.done() or task.cancelled():
            return None
        error = task.exception()
        return None if error is None else repr(error)[:200]

    def coordination_failure(self) -> str | None:
        """Why the consumer's group coordination routine ended, if it ended with an error.

        aiokafka ends that routine on an error it does not expect (an event loop's RuntimeError writing to a
        connection the broker's death closed) and never starts it again: from then on every fetch raises "Unexpected
        error during coordination" and the consumer takes nothing more. No rejoin cures it; a new consumer does.
        """
        coordinator = getattr(self.consumer, "_coordinator", None)
        task = getattr(coordinator, "_coordination_task", None)
        if not isinstance(task, asyncio.Task) or not task.done() or task.cancelled():
            return None
        error = task.exception()
        return None if error is None else repr(error)[:200]

    def rejoin(self, why: str) -> bool:
        """Asks the consumer to rejoin its group (a new heartbeat task, a fresh assignment); False if it cannot."""
        request = getattr(getattr(self.consumer, "_coordinator", None), "request_rejoin", None)
        if not callable(request):
            return False
        log.warning("consumer group: %s; rejoining", why)
        request()
        self.rejoins += 1
        return True

    def watch(self) -> None:
        """Called with every flush: a stopped heartbeat, or commits stalled for ``stall_s`` while finished records
        wait, make the consumer rejoin (at most once per ``stall_s``)."""
        if self.broken:
            return  # no rejoin mends it; the restart it called for does
        if (failure := self.coordination_failure()) is not None:
            self.broken = True
            log.error("consumer group coordination ended (%s): this consumer takes nothing more", failure)
            if self.on_broken is not None:
                self.on_broken(failure)
            return
        now = time.monotonic()
        if now - self._rejoined_at < self.stall_s:
            return
        why = self.heartbeat_failure()
        if why is not None:
            why = f"heartbeat stopped ({why})"
        elif self.stalled_s() >= self.stall_s:
            why = f"offsets not committed for {self.stalled_s():.0f} s ({self.last_error or 'no answer'})"
        if why is not None and self.rejoin(why):
            self._rejoined_at = now

    async def flush(
        self, partitions: Iterable[TopicPartition] | None = None, *, timeout_s: float | None = None
    ) -> None:
        consumer = self._consumer
        if consumer is None or not self._done:
            return
        assigned = consumer.assignment()
        wanted = set(partitions) if partitions is not None else assigned
        offsets = {tp: offset for tp, offset in self._done.items() if tp in assigned and tp in wanted}
        for tp in [tp for tp in self._done if tp not in assigned]:
            del self._done[tp]  # revoked: its new owner replays from the last commit
            self._taken.pop(tp, None)
        if not self._done:
            self.pending_since = None
        if not offsets:
            return
        try:
            await asyncio.wait_for(consumer.commit(offsets), self.commit_s if timeout_s is None else timeout_s)
        except CommitFailedError as exc:
            if not self.lost_membership:
                log.warning("offset commit refused, the consumer is no longer in its group: %r", exc)
            self.lost_membership = True
            self.last_error = repr(exc)[:200]
            return
        except (KafkaError, TimeoutError) as exc:
            if self.last_error is None:
                log.warning("offset commit deferred: %r", exc)
            self.last_error = repr(exc)[:200] or "timed out"
            return
        if self.last_error is not None or self.lost_membership:
            log.warning("offset commits move again")
        self.last_error = None
        self.lost_membership = False
        self.commits += 1
        for tp, offset in offsets.items():
            if self._done.get(tp) == offset:
                del self._done[tp]
        self.pending_since = time.monotonic() if self._done else None

    def listener(self) -> ConsumerRebalanceListener:
        """Drains the revoked partitions' lanes (``on_revoke``), then commits what is done before partitions move
        to another instance (bounded: a rebalance never waits on a commit for ever)."""
        book = self

        class CommitBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
            async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
                if book.on_revoke is not None:
                    try:
                        await book.on_revoke(set(revoked))
                    except Exception:
                        log.exception("draining revoked partitions failed; committing what is done")
                await book.flush(revoked, timeout_s=5.0)
                book.forget(revoked)

            async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
                book.rebalances += 1
                book.lost_membership = False
                if book.on_assign is not None:
                    book.on_assign(set(assigned))
                log.info("consumer group joined: %d partitions assigned", len(assigned))

        return CommitBeforeRevoke()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self, timeout_s: float = 1.0) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush(timeout_s=timeout_s)

    async def _run(self) -> None:
        """Commits every ``interval_s``; an unexpected error is logged and the loop goes on (a dead loop would
        freeze the committed offsets without a word)."""
        failing = False
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.flush()
                self.watch()
            except Exception as exc:
                self.last_error = repr(exc)[:200]
                if not failing:
                    log.exception("offset commits failed")
                failing = True
            else:
                failing = False
