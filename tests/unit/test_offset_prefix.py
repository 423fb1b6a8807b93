"""The offsets a consumer commits stop at the lowest record not finished: records of other keys finish first."""

from __future__ import annotations

from typing import Any, cast

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from shared.offsets import OffsetBook

TP = TopicPartition("t", 0)
CONSUMER = cast("AIOKafkaConsumer", object())


def rec(offset: int, partition: int = 0) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord("t", partition, offset, 0, 0, b"k", b"v", None, 0, 0, [])


def test_commits_stop_at_the_lowest_unfinished_record() -> None:
    book = OffsetBook()
    assert all(book.taken(rec(offset)) for offset in range(5))
    book.done(CONSUMER, rec(1))
    book.done(CONSUMER, rec(2))
    assert book.committable() == {}  # 0 is still being handled
    assert book.unfinished(TP) == 3
    book.done(CONSUMER, rec(0))
    assert book.committable() == {TP: 3}
    book.done(CONSUMER, rec(4))
    assert book.committable() == {TP: 3}  # 3 is not finished
    book.done(CONSUMER, rec(3))
    assert book.committable() == {TP: 5}
    assert book.unfinished(TP) == 0


def test_partitions_are_apart_and_a_record_is_taken_once() -> None:
    book = OffsetBook()
    assert book.taken(rec(7, partition=1))
    assert book.taken(rec(3))
    assert not book.taken(rec(3))  # a batch fetched before a rebalance, delivered after it
    assert not book.taken(rec(2))
    book.done(CONSUMER, rec(7, partition=1))
    assert book.committable() == {TopicPartition("t", 1): 8}
    book.forget([TopicPartition("t", 1)])  # revoked: not ours to commit
    assert book.committable() == {}
    assert book.taken(rec(5, partition=1))  # assigned again: read again from its committed offset


def test_records_not_taken_are_done_in_order_as_before() -> None:
    book = OffsetBook()
    book.done(CONSUMER, rec(0))
    book.done(CONSUMER, rec(1))
    assert book.committable() == {TP: 2}
