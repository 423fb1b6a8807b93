"""A record that keeps failing for a transient reason: retried with backoff for ever, one traceback then one line
per retry, reported once past the bound (ERROR in the log and ``<ns>:ops:stuck`` for the operators), and the
report cleared when it goes through. On the real Redis and Kafka; the handler fails as Redis fails when it is away.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, ClassVar

import msgspec
import pytest
from aiokafka import ConsumerRecord
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from shared.envelope import SYSTEM, encode, wrap
from shared.kafka import Route, ServiceRuntime, StuckRecord, stuck_records
from shared.outbox import Txn
from shared.retry import Backoff, Retries
from shared.settings import HallSettings
from shared.telemetry import tracer_provider
from tests.halls import fresh_settings

pytestmark = pytest.mark.integration


class Probe(msgspec.Struct, frozen=True):
    version: ClassVar[int] = 1
    n: int


def record_of(topic: str, payload: Probe, offset: int) -> ConsumerRecord[Any, Any]:
    envelope = wrap(payload, case_id=uuid.uuid4().hex, actor=SYSTEM)
    return ConsumerRecord(topic, 2, offset, 0, 0, envelope.case_id.encode(), encode(envelope), None, 0, 0, [])


async def test_a_record_failing_past_the_bound_is_reported_once_and_cleared_when_it_goes_through(
    settings: HallSettings, caplog: pytest.LogCaptureFixture
) -> None:
    ns = await fresh_settings(settings)
    runtime = ServiceRuntime(ns, "probe", tracer_provider(ns, "probe"))
    # A quick policy for the test: 10 ms doubling to 40 ms, reported after 0.3 s.
    runtime.retries = Retries(Backoff(first_s=0.01, cap_s=0.04), alert_after_s=0.3)
    failures_left = [40]
    seen_stuck: list[dict[Any, Any]] = []
    listed: list[list[StuckRecord]] = []
    redis = Redis.from_url(ns.redis_url)

    async def handler(_env: Any, _payload: Probe, txn: Txn) -> None:
        seen_stuck.append(await redis.hgetall(runtime.stuck_key))
        listed.append(await stuck_records(redis, ns))
        if failures_left[0] > 0:
            failures_left[0] -= 1
            raise redis_errors.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        txn.set(ns.key("probe", "handled"), "yes")

    tables = ({"Probe.v1": Route(Probe, handler)},)
    record = record_of(ns.topic("probe.events"), Probe(n=1), offset=7)
    await runtime.start()
    await runtime.broker.start()
    try:
        caplog.set_level(logging.INFO, logger="hall.kafka")
        attempts = 1
        while not await runtime.attempt(record, tables):
            attempts += 1
            assert attempts < 200
        assert attempts == 41
        assert await redis.get(ns.key("probe", "handled")) == b"yes"
    finally:
        await runtime.stop()
        await runtime.broker.stop()

    ours = [r for r in caplog.records if r.name == "hall.kafka"]
    retries = [r for r in ours if "transient failure" in r.getMessage()]
    assert len(retries) == 40  # one line per retry
    assert [r.exc_info is not None for r in retries] == [True] + [False] * 39  # one traceback, the first
    assert all(r.levelno == logging.WARNING for r in retries)
    reports = [r for r in ours if r.levelno == logging.ERROR]
    assert len(reports) == 1  # reported once
    assert "has failed for a transient reason" in reports[0].getMessage()
    assert any("went through after 40 failed attempts" in r.getMessage() for r in ours)

    # The operators' record was there while it kept failing, and is gone now that it went through.
    field = f"probe {record.topic}/2@7".encode()
    stuck = [msgspec.json.decode(found[field], type=StuckRecord) for found in seen_stuck if field in found]
    assert stuck
    assert stuck[0].service == "probe"
    assert (stuck[0].topic, stuck[0].partition, stuck[0].offset) == (record.topic, 2, 7)
    assert "Connection refused" in stuck[0].reason
    assert stuck[0].failing_for_s >= 0.3
    assert await redis.hget(runtime.stuck_key, field) is None
    assert [stuck.offset for stuck in listed[-1]] == [7]  # what an operators' page reads
    assert await stuck_records(redis, ns) == []
    await redis.aclose()
