"""运行监控 (issue 12, item 4): a record a service cannot get through past the alert bound shows on the operators'
``/ops`` page and ``GET /api/ops/stuck`` while it keeps failing, and is gone once it goes through; only operators
may look. On the real Redis and Kafka: a service runtime reports the record as it does in production."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

import msgspec
import pytest
from aiokafka import ConsumerRecord
from redis import exceptions as redis_errors

from services.gateway.app import create_app
from shared.envelope import SYSTEM, encode, wrap
from shared.kafka import Route, ServiceRuntime
from shared.outbox import Txn
from shared.retry import Backoff, Retries
from shared.settings import HallSettings
from shared.telemetry import tracer_provider
from tests.halls import asgi_client, fresh_settings, lifespan
from tests.journeys import CLERK, auth

pytestmark = pytest.mark.integration

OPERATOR = auth("op-qian")


class Probe(msgspec.Struct, frozen=True):
    version: ClassVar[int] = 1
    n: int


async def test_a_stuck_record_shows_on_the_operators_page_until_it_goes_through(settings: HallSettings) -> None:
    ns = await fresh_settings(settings)
    runtime = ServiceRuntime(ns, "probe", tracer_provider(ns, "probe"))
    runtime.retries = Retries(Backoff(first_s=0.01, cap_s=0.04), alert_after_s=0.3)
    failing = [True]

    async def handler(_env: Any, _payload: Probe, txn: Txn) -> None:
        if failing[0]:
            raise redis_errors.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        txn.set(ns.key("probe", "handled"), "yes")

    tables = ({"Probe.v1": Route(Probe, handler)},)
    envelope = wrap(Probe(n=1), case_id=uuid.uuid4().hex, actor=SYSTEM)
    topic = ns.topic("probe.events")
    record = ConsumerRecord(topic, 3, 41, 0, 0, envelope.case_id.encode(), encode(envelope), None, 0, 0, [])
    app = create_app(ns)
    await runtime.start()
    await runtime.broker.start()
    try:
        async with lifespan(app), asgi_client(app) as client:
            empty = await client.get("/api/ops/stuck", headers=OPERATOR)
            assert empty.status_code == 200, empty.text
            assert empty.json() == {"total": 0, "records": []}
            for _ in range(200):  # past the 0.3 s bound: reported
                assert not await runtime.attempt(record, tables)
                if (await client.get("/api/ops/stuck", headers=OPERATOR)).json()["total"]:
                    break
            listed = (await client.get("/api/ops/stuck", headers=OPERATOR)).json()
            assert listed["total"] == 1, listed
            (stuck,) = listed["records"]
            assert (stuck["service"], stuck["topic"], stuck["partition"], stuck["offset"]) == ("probe", topic, 3, 41)
            assert "Connection refused" in stuck["reason"]
            assert stuck["failing_for_s"] >= 0.3

            page = await client.get("/ops/", headers=OPERATOR)
            assert page.status_code == 200
            assert f"{topic}/3@41" in page.text
            assert "持续重试的消息（1 条" in page.text
            for who in (CLERK, auth("zrzy-li")):
                assert (await client.get("/api/ops/stuck", headers=who)).status_code == 403
            assert (await client.get("/api/ops/stuck")).status_code == 401

            failing[0] = False  # Redis back: the record goes through and its report is cleared
            assert await runtime.attempt(record, tables)
            cleared = (await client.get("/api/ops/stuck", headers=OPERATOR)).json()
            assert cleared == {"total": 0, "records": []}
            assert "没有持续重试的消息" in (await client.get("/ops/", headers=OPERATOR)).text
    finally:
        await runtime.stop()
        await runtime.broker.stop()
