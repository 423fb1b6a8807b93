"""``./hall bench rebuild [--events 1000000]``: every service rebuilt from a million events.

In a private Kafka and Redis (deploy/sandbox.py), the whole hall runs one journey of each kind (rated, 容缺,
returned, 一件事, extended, a bad review under correction); its records, on every topic, are the template. The
template is cloned (new case numbers and new ids for cases, events, ratings and follow-ups) until the topics hold
``--events`` records, the consumer groups are moved to the end (caught up, as in a running hall), and then each
service's Redis is wiped and rebuilt as ``./hall rebuild`` does. It prints, per service, the records read, the
keys written and the time, and the Kafka disk used per 100,000 cases.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from redis.asyncio import Redis

from deploy.rebuild import rebuild
from deploy.sandbox import Sandbox
from services.evaluation.tokens import LABEL
from shared import topics
from shared.rebuild import Record, read_topics
from shared.secrets import derive_keys
from shared.settings import HallSettings, load_settings
from shared.topics import ensure_topics
from tests.halls import in_process_hall
from tests.integration.test_rebuild_all import journeys, settled

SERVICES = ("intake", "routing", "timing", "evaluation", "gateway")
LOGGED = [t.name for t in topics.ALL if t.name != topics.DEAD_LETTERS]
INPUTS = {
    "intake": (topics.INTAKE_COMMANDS, topics.TIMING_EVENTS),
    "routing": (topics.INTAKE_EVENTS, topics.ROUTING_COMMANDS, topics.TIMING_EVENTS, topics.EXTERNAL_EVENTS),
    "timing": (topics.INTAKE_EVENTS, topics.ROUTING_EVENTS, topics.EVALUATION_EVENTS),
    "evaluation": (topics.INTAKE_EVENTS, topics.ROUTING_EVENTS, topics.TIMING_EVENTS, topics.EVALUATION_COMMANDS),
    "gateway": (
        topics.INTAKE_EVENTS,
        topics.ROUTING_EVENTS,
        topics.TIMING_EVENTS,
        topics.EVALUATION_EVENTS,
        topics.EXTERNAL_EVENTS,
    ),
}
_ID = re.compile(rb"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
_NONCE = re.compile(rb'"nonce":"[0-9a-f]{16}"')
_TOKEN = re.compile(rb'"token":"([A-Za-z0-9_=-]+)[.]([A-Za-z0-9_=-]+)"')


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def resigned(key: bytes, numbers: re.Pattern[bytes], new_number: Callable[[re.Match[bytes]], bytes]) -> Any:
    """A rating link of the template signed again for the clone's case number (its claims name the case)."""

    def sign(match: re.Match[bytes]) -> bytes:
        body = base64.urlsafe_b64decode(match.group(1) + b"=" * (-len(match.group(1)) % 4))
        nonce = b'"nonce":"' + uuid.uuid4().hex[:16].encode() + b'"'  # a link is used once: each clone's is new
        new_body = _b64(_NONCE.sub(nonce, numbers.sub(new_number, body)))
        mac = _b64(hmac.new(key, new_body, hashlib.sha256).digest())
        return b'"token":"' + new_body + b"." + mac + b'"'

    return sign


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def template(settings: HallSettings) -> tuple[list[Record], list[str]]:
    """One journey of each kind through the whole hall; every record it left on the hall's topics."""
    async with in_process_hall(settings) as hall:
        cases = await journeys(hall)
        cases.pop("followup")
        redis = Redis.from_url(settings.redis_url)
        try:
            await settled(hall, redis, cases)
        finally:
            await redis.aclose()
    records = await read_topics(settings.kafka_bootstrap_servers, settings.namespace, LOGGED)
    # Cloned in the order they were published: each partition keeps the template's order.
    records.sort(key=lambda r: (r.timestamp, r.topic, r.partition, r.offset))
    return records, sorted(cases.values())


def cloner(numbers: list[str], region: str) -> tuple[re.Pattern[bytes], int]:
    """The case numbers of the template (a child's number starts with its parent's) and how many there are."""
    day = numbers[0][len(region) : len(region) + 8]
    return re.compile(rb"%s%s(\d{6})" % (region.encode(), day.encode())), len(numbers) + 1


def clone(
    records: list[Record], numbers: re.Pattern[bytes], width: int, n: int, key: bytes
) -> list[tuple[str, bytes, bytes, int]]:
    """The template's records with new ids and numbers: clone ``n`` of them.

    Each keeps its template record's time stamp. A rebuild orders an input that published nothing by its own time
    stamp, and the others by their outputs' (shared/rebuild.py): stamped afresh, a clone sent in one burst would put
    a whole journey in one millisecond and lose that order (e.g. a 跨省 handover before its case's acceptance).
    """
    ids: dict[bytes, bytes] = {}

    def new_id(match: re.Match[bytes]) -> bytes:
        old = match.group(0)
        if old not in ids:
            ids[old] = uuid.uuid4().hex.encode()
        return ids[old]

    def new_number(match: re.Match[bytes]) -> bytes:
        sequence = int(match.group(1)) + n * width
        return match.group(0)[:-6] + b"%06d" % sequence

    sign = resigned(key, numbers, new_number)
    out = []
    for record in records:
        value = _TOKEN.sub(sign, numbers.sub(new_number, _ID.sub(new_id, record.value)))
        key = _ID.sub(new_id, record.key or b"")
        out.append((record.topic, key, value, record.timestamp))
    return out


async def produce(
    settings: HallSettings, records: list[Record], numbers: list[str], events: int, first: int = 1
) -> int:
    """Clone the template until the topics hold ``events`` records; returns the cases written.

    ``first`` is the first clone to write: the topics already hold the template and ``first - 1`` clones (a bench
    that grows its load in steps, tests/bench_reads.py, goes on where it stopped)."""
    pattern, width = cloner(numbers, settings.region_code)
    key = derive_keys(settings.secret, LABEL)[0]  # rating links are signed with it (services/evaluation/tokens.py)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=20, max_batch_size=512 * 1024, acks=1
    )
    await producer.start()
    written, n = len(records) * first, first
    try:
        while written < events:
            pending = []
            for topic, record_key, value, stamp in clone(records, pattern, width, n, key):
                pending.append(
                    await producer.send(settings.topic(topic), value, key=record_key or None, timestamp_ms=stamp)
                )
            await asyncio.gather(*pending)
            written += len(records)
            n += 1
            if n % 200 == 0:
                say(f"  … {written:,} records")
    finally:
        await producer.stop()
    return n * len(numbers)


async def caught_up(settings: HallSettings) -> None:
    """Every service's consumer group at the end of its inputs, as in a running hall that has caught up."""
    for service, inputs in INPUTS.items():
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=f"{settings.namespace}.{service}",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            count = {t.name: t.partitions for t in topics.ALL}
            partitions = [TopicPartition(settings.topic(n), p) for n in inputs for p in range(count[n])]
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            await consumer.commit(dict(ends.items()))
        finally:
            await consumer.stop()


def disk_bytes(path: Path) -> int:
    """The bytes of the hall's log segments under ``path`` (the indexes are sparse, preallocated files)."""
    return sum(f.stat().st_size for f in path.rglob("*.log") if f.parent.name.startswith("bench."))


async def run(events: int, home: Path) -> int:
    sandbox = Sandbox(home)
    say(f"sandbox: Kafka {sandbox.kafka_bootstrap_servers}, Redis {sandbox.redis_url}, home {home}")
    try:
        sandbox.start()
        settings = msgspec.structs.replace(
            load_settings(),
            kafka_bootstrap_servers=sandbox.kafka_bootstrap_servers,
            redis_url=sandbox.redis_url,
            namespace="bench",
        )
        await ensure_topics(settings)
        say("template: one journey of each kind through the whole hall …")
        records, numbers = await template(settings)
        say(f"template: {len(records)} records, {len(numbers)} cases")
        before = disk_bytes(home / "kafka")
        started = time.monotonic()
        cases = await produce(settings, records, numbers, events)
        await caught_up(settings)
        count = len(await read_topics(settings.kafka_bootstrap_servers, settings.namespace, LOGGED))
        say(f"generated: {count:,} records for {cases:,} cases in {time.monotonic() - started:.0f} s")
        await asyncio.sleep(5)  # let the broker flush its segments before measuring the disk
        used = disk_bytes(home / "kafka") - before
        say(f"kafka disk: {used / 1e6:,.0f} MB, {used / cases * 100_000 / 1e9:.2f} GB per 100,000 cases")
        timings: dict[str, float] = {}
        for service in SERVICES:
            begun = time.monotonic()
            summary = await rebuild(settings, service)
            timings[service] = time.monotonic() - begun
            say(f"  {summary}")
        redis = Redis.from_url(settings.redis_url)
        try:
            memory = (await redis.info("memory"))["used_memory"]
        finally:
            await redis.aclose()
        say(
            f"rebuilt from {count:,} records: "
            + ", ".join(f"{s} {t:.1f} s" for s, t in timings.items())
            + f"; slowest {max(timings.values()):.1f} s (the services rebuild in parallel when the hall starts), "
            f"all in a row {sum(timings.values()):.1f} s; Redis {memory / 1e6:,.0f} MB"
        )
        return 0
    finally:
        sandbox.stop()


def main() -> int:
    parser = argparse.ArgumentParser(prog="hall bench rebuild")
    parser.add_argument("--events", type=int, default=1_000_000, help="records to generate (default 1,000,000)")
    parser.add_argument("--keep", action="store_true", help="keep the sandbox's home for a post-mortem")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="hall-bench-rebuild-"))
    try:
        return asyncio.run(run(args.events, home))
    finally:
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
