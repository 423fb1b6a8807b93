"""Commits of consumed offsets, batched: only offsets of records whose effects are done, every 200 ms.

A commit per record costs the broker more than the record itself. Committing the offsets of finished
records in the background keeps at-least-once delivery (nothing unfinished is ever committed) and lets a
restarted or rebalanced consumer replay at most the last interval, which idempotent handlers drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError

log = logging.getLogger("hall.offsets")


class OffsetBook:
    """The next offset to commit per partition, for one consumer."""

    def __init__(self, interval_s: float = 0.2) -> None:
        self.interval_s = interval_s
        self._done: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    def done(self, consumer: AIOKafkaConsumer, record: ConsumerRecord[Any, Any]) -> None:
        """The record's effects are done: its offset may be committed."""
        self._consumer = consumer
        self._done[TopicPartition(record.topic, record.partition)] = record.offset + 1

    async def flush(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        consumer = self._consumer
        if consumer is None or not self._done:
            return
        assigned = consumer.assignment()
        wanted = set(partitions) if partitions is not None else assigned
        offsets = {tp: offset for tp, offset in self._done.items() if tp in assigned and tp in wanted}
        for tp in [tp for tp in self._done if tp not in assigned]:
            del self._done[tp]  # revoked: its new owner replays from the last commit
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:
            log.info("offset commit deferred: %r", exc)
            return
        for tp, offset in offsets.items():
            if self._done.get(tp) == offset:
                del self._done[tp]

    def listener(self) -> ConsumerRebalanceListener:
        """Commits what is done before partitions move to another instance."""
        book = self

        class CommitBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
            async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
                await book.flush(revoked)

            async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
                pass

        return CommitBeforeRevoke()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.flush()
