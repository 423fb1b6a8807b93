"""Throttling beyond sign-in (issue 11, item 3): a kiosk's ID check takes exactly six characters and a case
number gets five wrong ID checks an hour, and every caller a bounded number of requests a minute; each refusal
is a 429 with Retry-After, counted in Redis so every gateway instance shares it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest

from services.gateway.app import create_app
from services.gateway.limits import TAIL_FAILURES
from shared.settings import HallSettings
from tests.halls import InProcessHall, asgi_client, fresh_settings, lifespan
from tests.journeys import APPLICATION, CLERK, KIOSK, KIOSK_PROOF, STAFF, submit
from tests.support import eventually

pytestmark = pytest.mark.integration

WRONG_TAIL = {"applicant_id_tail": "999999"}
ID_NUMBER: str = APPLICATION["applicant"]["id_number"]
WRONG_ID = ID_NUMBER[:-4] + "0000"


def rating(tail: dict[str, str]) -> dict[str, str]:
    return {"level": "满意", "channel": "自助终端", **tail}


def assert_throttled(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert 0 < int(response.headers["retry-after"]) <= 3600
    assert "失败次数过多" in response.json()["detail"]


@pytest.mark.parametrize("tail", ["11237", "0011237", "1"])
async def test_a_kiosk_id_tail_must_be_six_characters(hall: InProcessHall, tail: str) -> None:
    response = await hall.client.post(
        "/api/cases/anything/ratings", json=rating({"applicant_id_tail": tail}), headers=KIOSK
    )
    assert response.status_code == 422, response.text
    assert "6个字符" in response.json()["detail"]


async def test_wrong_id_tails_at_the_kiosk_run_out_and_then_even_the_right_one_waits(hall: InProcessHall) -> None:
    case_no = await submit(hall.client)
    url = f"/api/cases/{case_no}/ratings"

    async def first_refusal() -> httpx.Response | None:  # once evaluation has opened the case for rating
        response = await hall.client.post(url, json=rating(WRONG_TAIL), headers=KIOSK)
        return response if response.status_code == 403 else None

    assert "证件号码后几位" in (await eventually(first_refusal)).json()["detail"]
    for _ in range(TAIL_FAILURES - 1):
        again = await hall.client.post(url, json=rating(WRONG_TAIL), headers=KIOSK)
        assert again.status_code == 403, again.text
    assert_throttled(await hall.client.post(url, json=rating(WRONG_TAIL), headers=KIOSK))
    assert_throttled(await hall.client.post(url, json=rating(KIOSK_PROOF), headers=KIOSK))


async def test_wrong_id_numbers_at_the_lookup_run_out_per_case(hall: InProcessHall) -> None:
    case_no = await submit(hall.client)

    async def found() -> httpx.Response | None:
        # Once the gateway's read model has the case, asked by its clerk: a lookup that misses would count as a
        # failed ID check of this case number (the read model's lag is no wrong number, but a kiosk cannot tell).
        response = await hall.client.get(f"/api/cases/{case_no}", headers=CLERK)
        return response if response.status_code == 200 else None

    await eventually(found)
    for _ in range(TAIL_FAILURES):
        wrong = await hall.client.get("/api/lookup", params={"case_no": case_no, "id_number": WRONG_ID}, headers=KIOSK)
        assert wrong.status_code == 404, wrong.text
    right = await hall.client.get("/api/lookup", params={"case_no": case_no, "id_number": ID_NUMBER}, headers=KIOSK)
    assert_throttled(right)
    other = await submit(hall.client)  # another case number is not held up
    answer = await hall.client.get("/api/lookup", params={"case_no": other, "id_number": WRONG_ID}, headers=KIOSK)
    assert answer.status_code == 404


@pytest.fixture
async def strict_gateway(settings: HallSettings) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway of its own namespace allowing five requests a minute per caller."""
    strict = msgspec.structs.replace(await fresh_settings(settings), api_rate_per_minute=5)
    app = create_app(strict)
    async with lifespan(app), asgi_client(app) as client:
        yield client


async def test_a_caller_over_the_rate_limit_gets_429_with_retry_after(strict_gateway: httpx.AsyncClient) -> None:
    for _ in range(5):
        ok = await strict_gateway.get("/api/catalogue", params={"q": "登记"}, headers=CLERK)
        assert ok.status_code == 200, ok.text
    over = await strict_gateway.get("/api/catalogue", params={"q": "登记"}, headers=CLERK)
    assert over.status_code == 429, over.text
    assert 0 < int(over.headers["retry-after"]) <= 60
    assert "每分钟不得超过 5 次" in over.json()["detail"]
    other = await strict_gateway.get("/api/catalogue", params={"q": "登记"}, headers=STAFF)
    assert other.status_code != 429  # another caller has a count of their own
    static = await strict_gateway.get("/static/hall.css", headers=CLERK)
    assert static.status_code == 200  # the hall's own scripts and styles are not counted
