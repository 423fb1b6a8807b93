"""个人信息保护: after a whole journey with a known ID number, phone and postal address (intake → acceptance →
steps → delivery by post → rating), no topic of the namespace, no Redis value of the namespace and no log line
holds any of them in full; devices get them masked, and only staff acting on the case see them whole.

The test Redis is shared with every test run, so its AOF is not scanned: every key of this hall's namespace is
(what the AOF would hold of it). The deploy scripts' file modes are checked on the hall's own ``.hall``.
"""

from __future__ import annotations

import hashlib
import logging
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from redis.asyncio import Redis
from stdnum.cn import ric

from services.gateway.cases.schemas import ApplicationIn
from shared.pii import for_secret
from shared.settings import HallSettings
from tests.halls import InProcessHall, fresh_settings, in_process_hall
from tests.journeys import CLERK, KIOSK, STAFF, auth, inbox_steps
from tests.support import eventually

ID_NUMBER = "15052519850607241" + ric.calc_check_digit("15052519850607241" + "0")  # the 18th character: its own check
PHONE = "13987654321"
ADDRESS = "内蒙古自治区通辽市奈曼旗大沁他拉镇民主路88号3单元"
SECRETS = {"ID number": ID_NUMBER, "phone": PHONE, "postal address": ADDRESS}
PAD = auth("pad-01")
SUPERVISOR = auth("zrzy-boss")
APPLICATION: dict[str, Any] = {
    "item_code": "11150525000118001",  # 查封登记, 自然资源局
    "applicant": {"name": "钱多多", "id_type": "居民身份证", "id_number": ID_NUMBER, "phone": PHONE},
    "materials": ["M01", "M02"],
}
HALL_HOME = Path(__file__).resolve().parents[2] / ".hall"


def _forms(text: str) -> Iterator[bytes]:
    """How a value may sit in bytes: UTF-8, and JSON's \\u escapes of it."""
    yield text.encode()
    yield msgspec.json.encode(text).strip(b'"')
    yield text.encode("ascii", "backslashreplace").replace(b"\\x", b"\\u00")
    yield "".join(c if c.isascii() else f"\\u{ord(c):04x}" for c in text).encode()


def _leaks(where: str, blob: bytes) -> list[str]:
    return [f"{what} in {where}" for what, value in SECRETS.items() if any(f in blob for f in _forms(value))]


@pytest.fixture(scope="module")
async def pii_hall(settings: HallSettings) -> Any:
    async with in_process_hall(await fresh_settings(settings)) as running:
        yield running


async def _ok(response: httpx.Response, *codes: int) -> httpx.Response:
    assert response.status_code in codes, response.text
    return response


async def _case(client: httpx.AsyncClient, case_no: str, wanted: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        response = await client.get(f"/api/cases/{case_no}", headers=CLERK)
        body: dict[str, Any] = response.json()
        return body if response.status_code == 200 and body["state"] == wanted else None

    return await eventually(probe)


async def _journey(hall: InProcessHall) -> tuple[str, list[tuple[str, httpx.Response]]]:
    """The whole journey; returns the case number and every answer devices and the public got."""
    client = hall.client
    retryable = {"Idempotency-Key": "pii-scan-journey", **CLERK}
    accepted = await _ok(await client.post("/api/cases", json=APPLICATION, headers=retryable), 201)
    case_no: str = accepted.json()["case_no"]
    decided: set[str] = set()
    for opinion in ("材料齐全", "审核同意", "准予"):

        async def probe() -> str | None:
            steps = [
                s
                for s in await inbox_steps(client, "/api/departments/自然资源局/steps", STAFF)
                if s["case_no"] == case_no and s["step_id"] not in decided and not s["waiting"]
            ]
            return steps[0]["step_id"] if steps else None

        step_id = await eventually(probe)
        decision = {"action": "通过", "opinion": opinion}
        await _ok(await client.post(f"/api/steps/{step_id}/decision", json=decision, headers=STAFF), 200, 202)
        decided.add(step_id)
    await _case(client, case_no, "已办结")
    by_post = {"method": "邮寄", "address": ADDRESS}
    await _ok(await client.post(f"/api/deliveries/{case_no}", json=by_post, headers=CLERK), 200, 202)
    await _case(client, case_no, "已出件")
    rating = {"level": "满意", "channel": "自助终端", "applicant_id_tail": ID_NUMBER[-6:]}
    await _ok(await client.post(f"/api/cases/{case_no}/ratings", json=rating, headers=KIOSK), 201, 202)
    await _case(client, case_no, "已评价")
    lookup = f"/api/lookup?case_no={case_no}&id_number={ID_NUMBER}"
    shown = [
        ("kiosk lookup", await _ok(await client.get(lookup, headers=KIOSK), 200)),
        ("kiosk case view", await client.get(f"/api/cases/{case_no}", headers=KIOSK)),
        ("pad case ratings", await client.get(f"/api/cases/{case_no}/ratings", headers=PAD)),
        ("kiosk case ratings", await client.get(f"/api/cases/{case_no}/ratings", headers=KIOSK)),
        ("unauthenticated case view", await client.get(f"/api/cases/{case_no}")),
        ("public ratings page", await client.get("/public/ratings")),
    ]
    return case_no, shown


async def _topics(settings: HallSettings) -> dict[str, bytes]:
    """Every record (key, value, headers) of every topic of the namespace, per topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(settings.namespace + ".")]
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
    assert partitions, f"no topics of {settings.namespace}"
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    found: dict[str, bytes] = {}
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=2000)
            if not batch:
                break
            for tp, records in batch.items():
                for r in records:
                    blob = (r.key or b"") + b"\n" + (r.value or b"") + b"".join(v for _, v in (r.headers or ()))
                    found[tp.topic] = found.get(tp.topic, b"") + blob + b"\n"
                    if r.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
    finally:
        await consumer.stop()
    return found


async def namespace_values(settings: HallSettings) -> dict[str, bytes]:
    """Every value of every key of the namespace, per key."""
    redis: Any = Redis.from_url(settings.redis_url)  # untyped: every kind of value is read as bytes
    found: dict[str, bytes] = {}
    try:
        async for raw in redis.scan_iter(match=f"{settings.namespace}:*", count=1000):
            key = raw.decode()
            kind = (await redis.type(key)).decode()
            parts: list[bytes] = [raw]
            if kind == "string":
                parts.append(await redis.get(key) or b"")
            elif kind == "hash":
                for field, value in (await redis.hgetall(key)).items():
                    parts += [field, value]
            elif kind == "set":
                parts += list(await redis.smembers(key))
            elif kind == "zset":
                parts += [m for m, _ in await redis.zrange(key, 0, -1, withscores=True)]
            elif kind == "list":
                parts += list(await redis.lrange(key, 0, -1))
            elif kind == "stream":
                for _, entry in await redis.xrange(key):
                    for field, value in entry.items():
                        parts += [field, value]
            found[key] = b"\n".join(parts)
    finally:
        await redis.aclose()
    return found


async def test_a_whole_journey_leaves_no_id_number_phone_or_address_anywhere(
    pii_hall: InProcessHall, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    case_no, shown = await _journey(pii_hall)
    settings = pii_hall.settings

    topics = await _topics(settings)
    assert any(".intake.commands" in t for t in topics)
    assert any(".evaluation.events" in t for t in topics)
    leaks = [leak for topic, blob in topics.items() for leak in _leaks(f"topic {topic}", blob)]
    keys = await namespace_values(settings)
    assert keys, "the namespace has no Redis keys: nothing was scanned"
    leaks += [leak for key, blob in keys.items() for leak in _leaks(f"Redis key {key}", blob)]
    # The Idempotency-Key's record of the body: a keyed hash, not a plain one (that would let the number be guessed).
    plain_digest = hashlib.sha256(msgspec.json.encode(msgspec.convert(APPLICATION, ApplicationIn))).hexdigest().encode()
    leaks += [f"a plain hash of the application in Redis key {k}" for k, blob in keys.items() if plain_digest in blob]
    assert any(":idem:" in k for k in keys), "the Idempotency-Key left no record: nothing was checked"
    for r in caplog.records:
        if r.name.startswith("httpx"):
            continue  # the test's own HTTP client naming the URLs it asks for (the kiosk's lookup has the number)
        logged = f"{r.getMessage()}\n{r.exc_text or ''}\n{r.args!r}".encode()
        leaks += _leaks(f"the log line of {r.name} at {r.levelname} ({r.getMessage()[:80]})", logged)
    for name, response in shown:
        leaks += _leaks(f"the answer to {name} ({response.status_code})", response.content)
    assert not leaks, leaks

    # They are there, sealed: the applicant's sealed ID number opens to the whole number.
    pii = for_secret(settings.secret)
    accepted = next(b for t, b in topics.items() if t.endswith(".intake.events"))
    sealed = [w for w in accepted.split(b'"') if w.startswith(b"enc:v1:")]
    assert ID_NUMBER in {pii.unseal(s.decode()) for s in sealed}

    # Devices see them masked.
    lookup = shown[0][1].json()
    assert lookup["id_masked"].endswith(ID_NUMBER[-4:])
    assert "*" in lookup["id_masked"]

    # The staff who act on the case see them whole: the case's clerk (ID number), the window's delivery note
    # (address); the timeline any reader may see names the post with the address masked.
    view = await _ok(await pii_hall.client.get(f"/api/cases/{case_no}", headers=CLERK), 200)
    assert view.json()["dossier"]["id_number"] == ID_NUMBER
    delivered = next(e for e in view.json()["timeline"] if e["type"] == "CaseDelivered.v1")
    assert "邮寄：内蒙古自治区通辽市奈曼旗" in delivered["summary"]
    assert ADDRESS not in delivered["summary"]
    note = await _ok(await pii_hall.client.get(f"/desk/delivery/{case_no}", headers=CLERK), 200)
    assert ADDRESS in note.text

    # The rating book answers the rater's ID number masked, as the public page shows it.
    ratings = await _ok(await pii_hall.client.get(f"/api/cases/{case_no}/ratings", headers=STAFF), 200)
    raters = [r["rater"]["id_number"] for r in ratings.json()["ratings"] if r["rater"].get("id_number")]
    assert raters == [ID_NUMBER[:3] + "*" * 11 + ID_NUMBER[-4:]]


async def test_materials_on_file_are_found_by_keyed_hash_not_by_number(pii_hall: InProcessHall) -> None:
    """材料复用 still finds the applicant's earlier materials, though the file is keyed by a hash of the number."""
    client, settings = pii_hall.client, pii_hall.settings
    applicant = APPLICATION["applicant"]
    objection = {"item_code": "11150525000118002", "applicant": applicant, "materials": ["M01", "M02", "M03"]}
    earlier = await _ok(await client.post("/api/cases", json=objection, headers=CLERK), 201)
    correction = {"item_code": "11150525000118003", "applicant": applicant, "materials": ["M01", "M03"]}
    later = await _ok(await client.post("/api/cases", json=correction, headers=CLERK), 201)
    assert later.json()["reused"] == [{"code": "M02", "name": "申请人身份证明", "case_no": earlier.json()["case_no"]}]
    redis: Any = Redis.from_url(settings.redis_url)  # untyped: every kind of value is read as bytes
    try:
        keys = [k.decode() async for k in redis.scan_iter(match=f"{settings.namespace}:intake:docs:*")]
    finally:
        await redis.aclose()
    assert keys == [f"{settings.namespace}:intake:docs:{for_secret(settings.secret).lookup_hash(ID_NUMBER)}"]


@pytest.mark.skipif(not HALL_HOME.is_dir(), reason="no .hall here: the hall was never started from this tree")
def test_hall_data_directories_are_the_owners_alone() -> None:
    """./hall test (re)starts Redis and Kafka through deploy/*.sh, which set .hall's modes: 0700 and 0600."""
    for sub in ("", "redis", "kafka", "logs"):
        path = HALL_HOME / sub
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path} is open to others"
    for path in [*(HALL_HOME / "redis").rglob("*"), *(HALL_HOME / "logs").glob("*.log")]:
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path} is open to others"
