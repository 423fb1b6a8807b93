"""Upgrades keep data: the previous release's cases read, progress and rate on this one.

``recorded/`` holds what the previous release (``meta.json``'s commit) left in Kafka and Redis after one case
was driven to each stage (accepted, claimed, under review, returned for 补正, completed, delivered, rated), as of
a fixed working day, with the test secret that sealed their personal data. The test loads it into a fresh
namespace on the real Kafka and Redis (every record at its partition and offset, the consumer groups'
offsets, every Redis key), starts this release's hall on it as of the moment the recording stopped, and checks
that every case still reads (timeline, dossier, kiosk lookup, inbox, SLA board), progresses (steps decided, a returned
step resumed after its 补正, delivered) and rates, and that a new case gets the next number. Re-record with
``python -m tests.upgrade.record --commit REV``.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from redis.asyncio import Redis

from shared.rebuild import built_key
from shared.settings import HallSettings
from shared.topics import ensure_topics
from tests.halls import in_process_hall
from tests.journeys import APPLICATION, CLERK, KIOSK, KIOSK_PROOF, STAFF, auth
from tests.provisional_events import as_of
from tests.support import eventually
from tests.upgrade.drive import INBOX, Driver
from tests.upgrade.fixture import load, read

pytestmark = pytest.mark.integration

RECORDED = Path(__file__).resolve().parent / "recorded"
META: dict[str, Any] = json.loads((RECORDED / "meta.json").read_text(encoding="utf-8"))
CASES: dict[str, dict[str, Any]] = META["cases"]
OPERATOR = auth("op-qian")


def namespace_like(settings: HallSettings, recorded: str) -> str:
    """A namespace inside the session's (removed with it) of the recorded one's length."""
    prefix = f"{settings.namespace}u"
    assert len(prefix) + 4 <= len(recorded), f"the session namespace {settings.namespace!r} is too long"
    return prefix + uuid.uuid4().hex[: len(recorded) - len(prefix)]


@pytest.fixture(params=["rebuilt", "kept"])
async def upgraded(settings: HallSettings, request: pytest.FixtureRequest) -> Any:
    """This release's hall on the previous release's Kafka records and Redis keys.

    ``rebuilt``: as this release starts on them, each service without its ``built`` marker rebuilds its keys from
    Kafka. ``kept``: the markers set beforehand, so every read model decodes the records the previous release
    stored (migrating them with their new fields' defaults) instead of rebuilding them.
    """
    state = read(RECORDED / "state.json.gz")
    hall_settings = msgspec.structs.replace(
        settings,
        namespace=namespace_like(settings, state.namespace),
        secret=META["secret"],  # what sealed the recorded ID numbers and phones
        secret_previous=settings.secret,  # the tests' tokens are signed with the session's secret
    )
    await ensure_topics(hall_settings)
    await load(state, hall_settings)
    if request.param == "kept":
        redis = Redis.from_url(hall_settings.redis_url)
        try:
            for service in ("intake", "routing", "timing", "evaluation", "gateway"):
                await redis.set(built_key(hall_settings.namespace, service), "kept from the previous release")
        finally:
            await redis.aclose()
    # As of one minute after the recording stopped: clocks and rating windows stand where they were left.
    with as_of(datetime.fromisoformat(META["finished_at"]) + timedelta(minutes=1)):
        async with in_process_hall(hall_settings) as hall:
            yield hall


async def test_every_case_of_the_previous_release_reads_progresses_and_rates(upgraded: Any) -> None:
    client = upgraded.client
    driver = Driver(client)
    assert len(CASES) == 7, "the recording holds one case per stage"

    # ---- reads: every case, as the previous release showed it, through every read model
    for case_no, case in CASES.items():
        response = await client.get(f"/api/cases/{case_no}", headers=CLERK)
        assert response.status_code == 200, f"{case['stage']} {case_no}: {response.status_code} {response.text}"
        body = response.json()
        assert body["state"] == case["state"], case["stage"]
        shown = {entry["summary"] for entry in body["timeline"]}
        assert set(case["timeline"]) <= shown, f"{case['stage']}: lost {set(case['timeline']) - shown}"
        assert body["dossier"]["case_no"] == case_no
        lookup = await client.get(
            "/api/lookup", params={"case_no": case_no, "id_number": APPLICATION["applicant"]["id_number"]}
        )
        assert lookup.status_code == 200, f"{case['stage']}: the sealed ID number no longer matches: {lookup.text}"
        client.cookies.set("hall_session", CLERK["Authorization"].removeprefix("Bearer "))
        page = await client.get(f"/desk/cases/{case_no}")
        client.cookies.clear()
        assert page.status_code == 200, f"{case['stage']} dossier page: {page.status_code}"
        assert case_no in page.text
    inbox = await client.get(INBOX, params={"limit": 200}, headers=STAFF)
    assert inbox.status_code == 200, inbox.text
    waiting = {(s["case_no"], s["seq"]): s for s in inbox.json()["items"] if s["status"] == "待办"}
    for case_no, case in CASES.items():
        if case["next_seq"]:
            assert (case_no, case["next_seq"]) in waiting, f"{case['stage']} {case_no} is not in the inbox"
    claimed = next(n for n, c in CASES.items() if c["stage"] == "claimed")
    assert waiting[(claimed, 1)]["assignee_id"] == "zrzy-li"
    returned = next(n for n, c in CASES.items() if c["stage"] == "returned")
    assert waiting[(returned, 1)]["waiting"] == "补正"
    board = await client.get("/api/sla/board", headers=OPERATOR)
    assert board.status_code == 200, board.text

    # ---- progress: every open case is decided, supplied, delivered and rated on this release
    step_id = waiting[(returned, 1)]["step_id"]
    resumed = await client.post(f"/api/steps/{step_id}/resume", json={"opinion": "已在窗口补正"}, headers=STAFF)
    assert resumed.status_code in (200, 202), resumed.text  # the 补正 was brought to the window
    for case_no, case in CASES.items():
        if case["stage"] == "rated":
            continue
        for seq in range(case["next_seq"], 4) if case["next_seq"] else ():
            await driver.decide(case_no, seq)
        await driver.state(case_no, "已办结" if case["stage"] != "delivered" else "已出件")
        if case["stage"] != "delivered":
            delivered = await client.post(f"/api/deliveries/{case_no}", json={"method": "窗口"}, headers=CLERK)
            assert delivered.status_code in (200, 202), f"{case['stage']}: {delivered.text}"
            await driver.state(case_no, "已出件")
        rating = {"level": "非常满意", "channel": "自助终端", **KIOSK_PROOF}
        rated = await client.post(f"/api/cases/{case_no}/ratings", json=rating, headers=KIOSK)
        assert rated.status_code in (201, 202), f"{case['stage']}: {rated.text}"
        await driver.state(case_no, "已评价")

    # ---- ratings: the one given on the previous release and the ones given now, on every case
    for case_no, case in CASES.items():

        async def rated(case_no: str = case_no) -> list[Any] | None:
            response = await client.get(f"/api/cases/{case_no}/ratings", headers=OPERATOR)
            assert response.status_code == 200, response.text
            found: list[Any] = response.json()["ratings"]
            return found or None

        ratings = await eventually(rated)
        levels = {r["level"] for r in ratings}
        assert levels == ({"满意"} if case["stage"] == "rated" else {"非常满意"}), f"{case['stage']}: {levels}"

    # ---- a new case continues the numbering instead of reusing a recorded number
    new = await driver.submit()
    assert new not in CASES
    assert new > max(CASES), f"{new} after {max(CASES)}"
