"""Sign-in throttling shared by every gateway instance (Redis): wrong passwords per user id and per client address
end in 429 with Retry-After, on /api/session and /login alike; unknown users cost the same password work.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import msgspec
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.gateway.app import create_app
from services.gateway.auth.throttle import ADDRESS_LIMIT, USER_LIMIT, WINDOW_S
from services.gateway.users import Directory
from shared.settings import HallSettings
from tests.halls import asgi_client, fresh_settings, lifespan

pytestmark = pytest.mark.integration


class Pair(msgspec.Struct):
    one: httpx.AsyncClient
    two: httpx.AsyncClient


@pytest.fixture
async def gateways(settings: HallSettings) -> AsyncIterator[Pair]:
    """Two gateway instances of a hall of its own (its failure counts start at zero)."""
    fresh = await fresh_settings(settings)
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(2):
            app = create_app(fresh, SimpleSpanProcessor(InMemorySpanExporter()))
            await stack.enter_async_context(lifespan(app))
            clients.append(await stack.enter_async_context(asgi_client(app)))
        yield Pair(clients[0], clients[1])


def _session(user_id: str, password: str) -> dict[str, str]:
    return {"user_id": user_id, "password": password}


def _retry_after(answer: httpx.Response) -> int:
    assert answer.status_code == 429, answer.text
    seconds = int(answer.headers["retry-after"])
    assert 0 < seconds <= WINDOW_S
    return seconds


async def test_wrong_passwords_for_one_user_end_in_429_with_retry_after_on_every_instance(gateways: Pair) -> None:
    for attempt in range(USER_LIMIT):
        client = (gateways.one, gateways.two)[attempt % 2]
        wrong = await client.post("/api/session", json=_session("clerk-zhang", f"guess-{attempt}"))
        assert wrong.status_code == 401
    for client in (gateways.one, gateways.two):
        _retry_after(await client.post("/api/session", json=_session("clerk-zhang", "guess-x")))
        # Even the right password waits: guessing on cannot tell a hit.
        throttled = await client.post("/api/session", json=_session("clerk-zhang", "hall2026"))
        _retry_after(throttled)
        assert "次数过多" in throttled.json()["detail"]
    # Another user is not locked out by these failures.
    assert (await gateways.one.post("/api/session", json=_session("clerk-wang", "hall2026"))).status_code == 201


async def test_the_login_page_is_throttled_too_and_shares_the_count(gateways: Pair) -> None:
    for attempt in range(USER_LIMIT - 1):
        wrong = await gateways.one.post("/api/session", json=_session("zrzy-li", f"guess-{attempt}"))
        assert wrong.status_code == 401
    form = {"user_id": "zrzy-li", "password": "guess-page"}
    page = await gateways.two.post("/login", data=form, follow_redirects=False)
    assert page.status_code == 401
    throttled = await gateways.two.post("/login", data={**form, "password": "hall2026"}, follow_redirects=False)
    _retry_after(throttled)
    assert "次数过多" in throttled.text
    assert "hall_session" not in throttled.headers.get("set-cookie", "")


async def test_many_user_ids_from_one_address_end_in_429(gateways: Pair) -> None:
    for attempt in range(ADDRESS_LIMIT):
        wrong = await gateways.one.post("/api/session", json=_session(f"nobody-{attempt}", "hall2026"))
        assert wrong.status_code == 401
    _retry_after(await gateways.two.post("/api/session", json=_session("nobody-else", "hall2026")))
    # From that address even a real user has to wait; the count is per address, so another address is not.
    _retry_after(await gateways.one.post("/api/session", json=_session("clerk-town", "hall2026")))


async def test_a_successful_sign_in_clears_the_users_count(gateways: Pair) -> None:
    for attempt in range(USER_LIMIT - 1):
        await gateways.one.post("/api/session", json=_session("kiosk-01", f"guess-{attempt}"))
    assert (await gateways.one.post("/api/session", json=_session("kiosk-01", "hall2026"))).status_code == 201
    for attempt in range(USER_LIMIT - 1):
        wrong = await gateways.two.post("/api/session", json=_session("kiosk-01", f"again-{attempt}"))
        assert wrong.status_code == 401


def test_an_unknown_user_costs_the_same_password_work_as_a_known_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Known, unknown and disabled users each cost one PBKDF2 of the same iterations (wall time would be flaky on a
    shared machine; the work is what makes the time equal). Before, an unknown user answered without any hash."""
    users = Directory("t" * 8 + "-an-install-secret-for-timing-only")
    work: list[int] = []
    real = hashlib.pbkdf2_hmac

    def counted(name: str, password: bytes, salt: bytes, iterations: int, dklen: int | None = None) -> bytes:
        work.append(iterations)
        return real(name, password, salt, iterations, dklen)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counted)  # the module services.gateway.users hashes with
    costs = {}
    for user_id in ("clerk-zhang", "no-such-user", ""):
        work.clear()
        assert users.sign_in(user_id, "not-the-password") is None
        costs[user_id] = list(work)
    assert costs["clerk-zhang"] == [60000]
    assert costs["no-such-user"] == costs["clerk-zhang"]
    assert costs[""] == costs["clerk-zhang"]
    monkeypatch.undo()
    # And the wall time agrees, loosely (medians of a few runs each).
    known, unknown = _median_ms(users, "clerk-zhang"), _median_ms(users, "no-such-user")
    assert unknown > 0.3 * known, (known, unknown)


def _median_ms(users: Directory, user_id: str, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        assert users.sign_in(user_id, "not-the-password") is None
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
