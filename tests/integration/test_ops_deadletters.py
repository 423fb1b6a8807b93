"""运行监控 · 死信 (issue 17, item 4): a record a real service handler cannot handle is dead-lettered by the real
consume path; the gateway's read model of the ``deadletter`` topic lists it on ``/ops`` and ``GET
/api/ops/deadletters``; 重新投递 re-publishes the original record byte for byte once, however often it is asked
(two clicks at once, then a third), and the service, fixed meanwhile, does its effect once. On the real Kafka and
Redis."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, ClassVar

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from services.gateway.app import create_app
from services.gateway.ops.deadletters import DeadLetters, read_again
from shared import topics
from shared.envelope import SYSTEM, encode, wrap
from shared.kafka import Route, ServiceRuntime
from shared.outbox import Txn
from shared.settings import HallSettings
from shared.telemetry import tracer_provider
from tests.halls import asgi_client, fresh_settings, lifespan
from tests.journeys import CLERK, auth

pytestmark = pytest.mark.integration

OPERATOR = auth("op-qian")


class Probe(msgspec.Struct, frozen=True):
    version: ClassVar[int] = 1
    n: int


async def copies_in(settings: HallSettings, topic: str, value: bytes) -> list[ConsumerRecord[Any, Any]]:
    """Every record of partition 0 of ``topic`` whose value is ``value``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        found: list[ConsumerRecord[Any, Any]] = []
        while await consumer.position(tp) < end:
            for records in (await consumer.getmany(tp, timeout_ms=1000)).values():
                found.extend(r for r in records if r.value == value)
        return found
    finally:
        await consumer.stop()


async def test_a_dead_letter_is_listed_and_replayed_once(settings: HallSettings) -> None:
    ns = await fresh_settings(settings)
    runtime = ServiceRuntime(ns, "probe", tracer_provider(ns, "probe"))
    broken = [True]
    effects = ns.key("probe", "effects")

    async def handler(_env: Any, _payload: Probe, txn: Txn) -> None:
        if broken[0]:
            raise ValueError("探针处理器故障")
        await txn.next_number(effects)  # an effect that would count twice if the event were handled twice

    tables = ({"Probe.v1": Route(Probe, handler)},)
    runtime.subscribe([topics.INTAKE_EVENTS], *tables)
    envelope = wrap(Probe(n=1), case_id=uuid.uuid4().hex, actor=SYSTEM)
    topic = ns.topic(topics.INTAKE_EVENTS)
    value = encode(envelope)
    headers = [("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), ("x-note", "原样".encode())]
    # As the consumer hands it over (the record never was in Kafka: the only copy there will be the replay).
    record = ConsumerRecord(topic, 0, 4242, 0, 0, envelope.case_id.encode(), value, None, 0, 0, headers)
    app = create_app(ns)
    await runtime.start()
    await runtime.broker.start()
    try:
        for _ in range(2):  # a bug, not a transient failure: retried, then dead-lettered on the third attempt
            assert not await runtime.attempt(record, tables)
        assert await runtime.attempt(record, tables)
        async with lifespan(app), asgi_client(app) as client:
            listed = await client.get("/api/ops/deadletters", headers=OPERATOR)
            assert listed.status_code == 200, listed.text
            page = listed.json()
            assert page["total"] == 1, page
            assert page["by_service"] == {"probe": 1}
            (letter,) = page["items"]
            assert (letter["service"], letter["topic"], letter["partition"], letter["offset"]) == (
                "probe",
                topic,
                0,
                4242,
            )
            assert "探针处理器故障" in letter["reason"]
            assert letter["state"] == "待处理"
            html = (await client.get("/ops/", headers=OPERATOR)).text
            assert f"{topic}/0@4242" in html
            assert f'data-replay="{letter["id"]}"' in html

            broken[0] = False  # fixed: now the replay is handled
            url = f"/api/ops/deadletters/{letter['id']}/replay"
            first, second = await asyncio.gather(client.post(url, headers=OPERATOR), client.post(url, headers=OPERATOR))
            assert first.status_code == second.status_code == 200, (first.text, second.text)
            assert sorted([first.json()["published"], second.json()["published"]]) == [False, True]
            again = await client.post(url, headers=OPERATOR)
            assert again.status_code == 200
            assert again.json()["published"] is False
            shown = again.json()["letter"]
            assert shown["state"] == "已重新投递"
            assert "钱芳" in shown["replayed_by"]

            copies = await copies_in(ns, topic, value)
            assert len(copies) == 1, "one replay however often it was asked"
            assert copies[0].key == envelope.case_id.encode()
            assert list(copies[0].headers) == headers  # byte for byte
            for _ in range(150):  # the probe consumes the replayed record: its effect, once
                if await runtime.redis.get(effects):
                    break
                await asyncio.sleep(0.1)
            assert await runtime.redis.get(effects) == b"1"

            # Even a second copy of the record (another gateway's replay, a producer retry) has no second effect.
            producer = AIOKafkaProducer(bootstrap_servers=ns.kafka_bootstrap_servers, acks="all")
            await producer.start()
            try:
                await producer.send_and_wait(topic, value, key=envelope.case_id.encode(), partition=0)
            finally:
                await producer.stop()
            await asyncio.sleep(1.5)
            assert await runtime.redis.get(effects) == b"1"

            html = (await client.get("/ops/", headers=OPERATOR)).text
            assert "已重新投递" in html
            assert 'data-replay="' not in html

            # Rebuilt from the topic (services/gateway/rebuild.py forgets the positions): the list comes back whole,
            # the replay mark kept with its letter.
            await runtime.redis.delete(ns.key("ops", "dl"), ns.key("ops", "dl", "services"))
            await read_again(runtime.redis, ns)
            assert await DeadLetters(ns).catch_up(runtime.redis)  # as the gateway's next read does
            rebuilt = (await client.get("/api/ops/deadletters", headers=OPERATOR)).json()
            assert rebuilt["total"] == 1
            assert rebuilt["by_service"] == {"probe": 1}
            assert rebuilt["items"][0]["state"] == "已重新投递"

            # Bad input: 4xx with the reason, never a 500; others than operators are refused.
            assert (await client.post("/api/ops/deadletters/0-999999/replay", headers=OPERATOR)).status_code == 404
            assert (await client.post("/api/ops/deadletters/abc/replay", headers=OPERATOR)).status_code == 422
            bad_cursor = await client.get("/api/ops/deadletters?cursor=zzz", headers=OPERATOR)
            assert bad_cursor.status_code == 422, bad_cursor.text
            assert (await client.get("/api/ops/deadletters?limit=0", headers=OPERATOR)).status_code == 400
            for who in (CLERK, auth("kiosk-01")):
                assert (await client.get("/api/ops/deadletters", headers=who)).status_code == 403
                assert (await client.post(url, headers=who)).status_code == 403
            assert (await client.get("/api/ops/deadletters")).status_code == 401
    finally:
        await runtime.drain()
        await runtime.stop()
        await runtime.broker.stop()
