"""The real timing process killed with SIGKILL while it handles batches of records in lanes, then restarted: every
request is handled (nothing lost) and every clock started once (nothing duplicated: a record published again after
the crash carries the same event id). Only the process is killed, not Kafka or Redis, so the shared ones serve."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from deploy.processes import Launcher
from shared import topics
from shared.clock import OFFSET_VARIABLE, SYSTEM_CLOCK
from shared.envelope import decode
from shared.settings import HallSettings
from shared.topics import ensure_topics
from tests.e2e.conftest import free_port
from tests.e2e.faults import send_requests, until
from tests.e2e.test_shutdown import markers

pytestmark = pytest.mark.e2e
REQUESTS = 800


async def clocks_started(hall: HallSettings) -> dict[str, set[str]]:
    """Each clock's ClockStarted event ids on timing's topic (a record read twice has one id)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=hall.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    started: dict[str, set[str]] = defaultdict(set)
    try:
        tps = [TopicPartition(hall.topic(topics.TIMING_EVENTS), p) for p in range(topics.PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    envelope = decode(record.value or b"")
                    if envelope.type == "ClockStarted.v1":
                        started[envelope.case_id].add(envelope.event_id)
    finally:
        await consumer.stop()
    return started


async def test_timing_killed_mid_batch_loses_and_duplicates_nothing(settings: HallSettings, tmp_path: Path) -> None:
    hall = msgspec.structs.replace(settings, namespace=f"{settings.namespace}k")
    await ensure_topics(hall)
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": hall.kafka_bootstrap_servers,
        "REDIS_URL": hall.redis_url,
        "HALL_NAMESPACE": hall.namespace,
        OFFSET_VARIABLE: str(SYSTEM_CLOCK.offset.total_seconds()),
    }
    processes = Launcher(tmp_path, env, {"timing": free_port()})
    processes.start("timing")
    try:
        assert not processes.wait_healthy(["timing"], timeout_s=90), "timing did not start"
        sent = await send_requests(hall, REQUESTS)
        ids = list(sent)

        async def some_done() -> bool:
            return len(await markers(hall, ids)) >= 100

        await until(some_done, 60, "timing handles the first batches")
        processes.kill("timing")  # SIGKILL, lanes in the middle of their batches
        at_kill = len(await markers(hall, ids))
        await asyncio.sleep(0.3)
        processes.start("timing")
        assert not processes.wait_healthy(["timing"], timeout_s=90), "timing did not restart"

        async def all_done() -> bool:
            return len(await markers(hall, ids)) == len(ids)

        await until(all_done, 90, "every request handled after the restart")
    finally:
        processes.stop("timing")
    print(f"\ntiming killed with {at_kill} of {REQUESTS} requests handled")  # noqa: T201 (the figure)
    assert at_kill < REQUESTS  # killed mid-way
    started = await clocks_started(hall)
    assert len(started) == REQUESTS  # nothing lost
    assert {clock: len(event_ids) for clock, event_ids in started.items() if len(event_ids) != 1} == {}
