"""Dead letters on the operations page: a read model of the ``deadletter`` topic and the 重新投递 (replay) action.

The read model (Redis, beside the stuck records under ``<ns>:ops:``):
- ``<ns>:ops:dl`` a sorted set of letter ids by ``failed_at`` (the page lists the newest first, paged);
- ``<ns>:ops:dl:<id>`` a hash per letter: ``letter`` (the DeadLetter as it is in the topic), and once replayed
  ``replay`` (the claim: who, when), ``replayed_at`` and ``replayed_by``;
- ``<ns>:ops:dl:services`` the letters per service; ``<ns>:ops:dl:next`` the next offset to read per partition.

A letter's id is its place in the ``deadletter`` topic (``<partition>-<offset>``). The gateway catches up with the
topic when the page or the API is read (at most every ``CATCH_UP_S``, bounded by ``CATCH_UP_WITHIN_S``: Kafka away
leaves the list as it was), with a consumer of no group reading from the positions kept in ``next``. The writes are
idempotent (HSETNX, ZADD NX), so a read model lost with its Redis is rebuilt by reading the topic from its start
again: delete ``next`` (a wiped Redis has none; the gateway's rebuild, services/gateway/rebuild.py, does it, since
dead letters are not events its handlers could replay).

A replay re-publishes the original value with its original key and headers, byte for byte, to the original topic;
its event id is the original's, so the consuming service's outbox marker makes the effect happen once. The claim
is an HSETNX on the letter: a second click, a second operator or a retried request finds it and publishes nothing
(已重新投递); a publish that fails gives the claim back (503, try again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from datetime import datetime
from typing import cast

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from redis.asyncio import Redis

from services.gateway.paging import zpage
from shared import topics
from shared.deadletter import DeadLetter, decode_dead_letter
from shared.localtime import local
from shared.pii import mask_id, mask_phone
from shared.settings import HallSettings

log = logging.getLogger("hall.gateway.deadletters")

CATCH_UP_S = 3.0
CATCH_UP_WITHIN_S = 5.0
REPLAY_WITHIN_S = 10.0
LETTER_ID = re.compile(r"^[0-9]{1,6}-[0-9]{1,19}$")
REASON_SHOWN = 300
# The hall's keys are case ids (hex); a key holding what looks like an ID number (18 characters, digits with a
# last X, or the old 15 digits) or a mobile number is shown masked as elsewhere (shared/pii.py).
ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(?:[0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9A-Za-z])")
PHONE_LIKE = re.compile(r"(?<![0-9A-Za-z])1[0-9]{10}(?![0-9A-Za-z])")

WAITING, REPLAYED = "待处理", "已重新投递"


class UnknownLetter(Exception):
    pass


class LetterView(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    service: str
    reason: str
    topic: str
    partition: int
    offset: int
    key: str | None
    failed_at: str  # local time
    state: str  # 待处理 / 已重新投递
    replayed_at: str | None = None
    replayed_by: str | None = None


class LetterPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[LetterView]
    total: int
    next_cursor: str | None = None
    by_service: dict[str, int] = {}
    caught_up: bool = True  # False: the topic could not be read just now (Kafka away): the list may lag


class Replayed(msgspec.Struct, frozen=True, kw_only=True):
    letter: LetterView
    published: bool  # False: it had been replayed before (nothing published this time)


def masked_key(key: str | None) -> str | None:
    if key is None:
        return None
    return PHONE_LIKE.sub(lambda m: mask_phone(m.group(0)), ID_LIKE.sub(lambda m: mask_id(m.group(0)), key))


def positions_key(settings: HallSettings) -> str:
    """Where the read model keeps the next offset to read per partition of the ``deadletter`` topic."""
    return settings.key("ops", "dl", "next")


async def read_again(redis: Redis, settings: HallSettings) -> None:
    """The gateway's rebuild: the next read of the dead letters starts from the topic's first record (the writes
    are idempotent: letters missing come back, those there keep their replay marks)."""
    await redis.delete(positions_key(settings))


class DeadLetters:
    """The read model and the replay, for one gateway process (the catch-up's last time is its own)."""

    def __init__(self, settings: HallSettings) -> None:
        self.settings = settings
        self.topic = settings.topic(topics.DEAD_LETTERS)
        self.index = settings.key("ops", "dl")
        self.counts = settings.key("ops", "dl", "services")
        self.positions = positions_key(settings)
        self.replays = settings.key("ops", "dl", "replays")
        self._lock = asyncio.Lock()
        self._caught_up_at: float | None = None
        self._caught_up = True

    def letter_key(self, letter_id: str) -> str:
        return self.settings.key("ops", "dl", letter_id)

    # The read model -----------------------------------------------------------------------------------------

    async def store(self, redis: Redis, partition: int, offset: int, raw: bytes) -> bool:
        """One record of the topic into the read model (idempotent); False for a record that is no dead letter."""
        try:
            letter = decode_dead_letter(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning("deadletter %d@%d is not a dead letter: skipped", partition, offset)
            return False
        letter_id = f"{partition}-{offset}"
        await redis.hsetnx(self.letter_key(letter_id), "letter", raw)
        if await redis.zadd(self.index, {letter_id: letter.failed_at.timestamp()}, nx=True):
            await redis.hincrby(self.counts, letter.service, 1)
        return True

    async def catch_up(self, redis: Redis, *, force: bool = False) -> bool:
        """Reads what the topic holds past the kept positions (at most every ``CATCH_UP_S``); False when Kafka
        did not answer within ``CATCH_UP_WITHIN_S`` (what was read is kept)."""
        async with self._lock:
            if not force and self._caught_up_at is not None and time.monotonic() - self._caught_up_at < CATCH_UP_S:
                return self._caught_up
            try:
                await asyncio.wait_for(self._read(redis), CATCH_UP_WITHIN_S)
                self._caught_up = True
            except (TimeoutError, KafkaError, OSError) as exc:
                log.warning("dead letters: the topic %s could not be read: %r", self.topic, exc)
                self._caught_up = False
            self._caught_up_at = time.monotonic()
            return self._caught_up

    async def _read(self, redis: Redis) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            client_id=f"{self.settings.namespace}.gateway-deadletters",
        )
        await consumer.start()
        try:
            count = next(spec.partitions for spec in topics.ALL if spec.name == topics.DEAD_LETTERS)
            tps = [TopicPartition(self.topic, n) for n in range(count)]
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            kept = {int(k): int(v) for k, v in (await redis.hgetall(self.positions)).items()}
            todo = {tp for tp in tps if kept.get(tp.partition, 0) < ends[tp]}
            for tp in tps:
                consumer.seek(tp, kept.get(tp.partition, 0))
            while todo:
                batches = await consumer.getmany(*todo, timeout_ms=500, max_records=500)
                for tp, records in batches.items():
                    for record in records:
                        await self.store(redis, record.partition, record.offset, record.value or b"")
                    if records:
                        await redis.hset(self.positions, str(tp.partition), records[-1].offset + 1)
                for tp in list(todo):
                    if await consumer.position(tp) >= ends[tp]:
                        todo.discard(tp)
        finally:
            await consumer.stop()

    async def letter(self, redis: Redis, letter_id: str) -> tuple[DeadLetter, dict[bytes, bytes]]:
        if not LETTER_ID.match(letter_id):
            raise UnknownLetter(letter_id)
        fields = cast(dict[bytes, bytes], await redis.hgetall(self.letter_key(letter_id)))
        if b"letter" not in fields:
            raise UnknownLetter(letter_id)
        return decode_dead_letter(fields[b"letter"]), fields

    def view(self, letter_id: str, letter: DeadLetter, fields: dict[bytes, bytes]) -> LetterView:
        replayed_at = fields.get(b"replayed_at")
        claimed = b"replay" in fields
        return LetterView(
            id=letter_id,
            service=letter.service,
            reason=letter.reason[:REASON_SHOWN],
            topic=letter.topic,
            partition=letter.partition,
            offset=letter.offset,
            key=masked_key(letter.key),
            failed_at=local(letter.failed_at),
            state=REPLAYED if claimed else WAITING,
            replayed_at=local(datetime.fromisoformat(replayed_at.decode())) if replayed_at else None,
            replayed_by=fields[b"replayed_by"].decode() if b"replayed_by" in fields else None,
        )

    async def page(self, redis: Redis, limit: int, cursor: str) -> LetterPage:
        """The newest letters first, paged (paging.zpage: a 422 for a cursor no answer gave)."""
        caught_up = await self.catch_up(redis)
        found = await zpage(redis, self.index, limit, cursor, newest_first=True)
        pipe = redis.pipeline(transaction=False)
        for letter_id in found.ids:
            pipe.hgetall(self.letter_key(letter_id))
        pipe.hgetall(self.counts)
        *rows, counts = await pipe.execute()
        items = [
            self.view(letter_id, decode_dead_letter(fields[b"letter"]), fields)
            for letter_id, fields in zip(found.ids, rows, strict=True)
            if b"letter" in fields
        ]
        return LetterPage(
            items=items,
            total=found.total,
            next_cursor=found.next_cursor,
            by_service={k.decode(): int(v) for k, v in sorted(counts.items())},
            caught_up=caught_up,
        )

    async def totals(self, redis: Redis) -> tuple[int, int]:
        """How many letters there are, and how many of them wait (not replayed)."""
        await self.catch_up(redis)
        total, replays = await redis.zcard(self.index), await redis.get(self.replays)
        return total, max(0, total - int(replays or 0))

    # The replay ---------------------------------------------------------------------------------------------

    async def replay(self, redis: Redis, letter_id: str, operator: str, now: datetime) -> Replayed:
        """Re-publishes the letter's original record once (see the module's docstring)."""
        letter, _ = await self.letter(redis, letter_id)
        key = self.letter_key(letter_id)
        claim = f"{operator} {now.isoformat()}"
        if not await redis.hsetnx(key, "replay", claim):
            _, fields = await self.letter(redis, letter_id)
            return Replayed(letter=self.view(letter_id, letter, fields), published=False)
        try:
            await asyncio.wait_for(self._publish(letter), REPLAY_WITHIN_S)
        except BaseException:
            with contextlib.suppress(Exception):
                await redis.hdel(key, "replay")
            raise
        pipe = redis.pipeline(transaction=True)
        pipe.hset(key, mapping={"replayed_at": now.isoformat(), "replayed_by": operator})
        pipe.incr(self.replays)
        await pipe.execute()
        log.warning(
            "dead letter %s replayed by %s to %s (was %s/%d@%d)",
            letter_id,
            operator,
            letter.topic,
            letter.topic,
            letter.partition,
            letter.offset,
        )
        _, fields = await self.letter(redis, letter_id)
        return Replayed(letter=self.view(letter_id, letter, fields), published=True)

    async def _publish(self, letter: DeadLetter) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            client_id=f"{self.settings.namespace}.gateway-replay",
            enable_idempotence=True,
            acks="all",
        )
        await producer.start()
        try:
            await producer.send_and_wait(
                letter.topic,
                letter.value,
                partition=letter.partition,
                key=letter.key.encode() if letter.key is not None else None,
                headers=list(letter.headers),
            )
        finally:
            await producer.stop()
