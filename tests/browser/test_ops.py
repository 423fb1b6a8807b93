"""运行监控 in real headless Chromium: the operator sees the served gateway's own instance with its figures and a
sparkline, an instance that does not answer as 不可达, a dead letter with its reason, and replays it after
confirming: the row turns 已重新投递 (and a second replay publishes nothing); an instance registered after the page
loaded appears from the server's push."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

import msgspec
from aiokafka import AIOKafkaProducer
from playwright.async_api import Page, expect
from redis.asyncio import Redis

from shared import topics
from shared.clock import SYSTEM_CLOCK
from shared.deadletter import DeadLetter
from shared.envelope import SYSTEM, encode, wrap
from shared.instances import Instance, registry_key
from tests.browser.pages import login, snap
from tests.halls import InProcessHall, free_port
from tests.journeys import auth


class Nobody(msgspec.Struct, frozen=True):
    """An event no service reacts to: its replay changes nothing."""

    n: int


async def test_the_operator_sees_instances_and_replays_a_dead_letter(served: InProcessHall, page: Page) -> None:
    ns = served.settings
    now = SYSTEM_CLOCK.now()
    address = urlsplit(served.base_url).netloc
    redis = Redis.from_url(ns.redis_url)
    try:
        for name, where in (("opsview", address), ("opsview-2", f"127.0.0.1:{free_port()}")):
            entry = Instance(
                service="opsview",
                instance=name,
                address=where,
                metrics="",
                pid=1,
                started_at=now.isoformat(),
                last_seen=now.isoformat(),
            )
            await redis.hset(registry_key(ns), name, msgspec.json.encode(entry))
    finally:
        await redis.aclose()
    marker = uuid.uuid4().hex[:8]
    envelope = wrap(Nobody(n=1), case_id=uuid.uuid4().hex, actor=SYSTEM)
    letter = DeadLetter(
        service="routing",
        reason=f"处理失败 3 次 (handler failed): 浏览器测试 {marker}",
        topic=ns.topic(topics.INTAKE_EVENTS),
        partition=0,
        offset=77,
        key=envelope.case_id,
        value=encode(envelope),
        headers=[],
        failed_at=now,
    )
    producer = AIOKafkaProducer(bootstrap_servers=ns.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(ns.topic(topics.DEAD_LETTERS), msgspec.json.encode(letter), partition=0)
    finally:
        await producer.stop()

    await login(page, served.base_url, "op-qian", "/ops/")
    await page.goto(f"{served.base_url}/ops/")
    # The served gateway answers its /health (正常, or 异常 with the problems it lists: a group rebalancing).
    await expect(page.locator('#instances tr[data-instance="opsview"] .state')).to_have_text(re.compile("正常|异常"))
    await expect(page.locator('#instances tr[data-instance="opsview-2"] .state')).to_have_text("不可达")
    await expect(page.locator('#services tr[data-service="opsview"] svg.sparkline')).to_have_count(2)
    row = page.locator("#letters tr", has_text=marker)
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text(f"{ns.topic(topics.INTAKE_EVENTS)}/0@77")
    await snap(page, "ops")
    # Live: an instance that registers after the page loaded shows up from a push (no reload).
    redis = Redis.from_url(ns.redis_url)
    try:
        later = Instance(
            service="opsview",
            instance="opsview-3",
            address=f"127.0.0.1:{free_port()}",
            metrics="",
            pid=1,
            started_at=now.isoformat(),
            last_seen=SYSTEM_CLOCK.now().isoformat(),
        )
        await redis.hset(registry_key(ns), "opsview-3", msgspec.json.encode(later))
    finally:
        await redis.aclose()
    await expect(page.locator('#instances tr[data-instance="opsview-3"] .state')).to_have_text("不可达", timeout=15_000)

    page.once("dialog", lambda dialog: dialog.accept())
    await row.get_by_role("button", name="重新投递").click()
    await expect(row.locator(".state")).to_contain_text("已重新投递")
    await expect(row.locator(".state")).to_contain_text("钱芳")
    letter_id = await row.get_attribute("data-letter")
    again = await served.client.post(f"/api/ops/deadletters/{letter_id}/replay", headers=auth("op-qian"))
    assert again.status_code == 200, again.text
    assert again.json()["published"] is False
