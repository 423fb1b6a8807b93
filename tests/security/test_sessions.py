"""Sessions: forged, garbled, expired, logged-out and revoked tokens are refused (401, never 500) on every gateway
instance; rotation keeps the previous secret's tokens; cookies are HttpOnly, SameSite=strict, Secure over https;
cookie-borne changes from another origin are refused (CSRF).

Two gateway apps share one namespace of the real Redis and Kafka, as two instances of a running hall do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta

import httpx
import jwt
import msgspec
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.gateway.app import create_app
from services.gateway.users import Directory
from shared.clock import SYSTEM_CLOCK, ManualClock
from shared.secrets import derive_key
from shared.settings import HallSettings
from tests.halls import asgi_client, fresh_settings, lifespan

pytestmark = pytest.mark.integration

OLD_DEFAULT = "dev-only-secret-change-me"
OPERATOR_ONLY = "/api/sla/board"  # op-qian may read it
ORIGIN = {"Origin": "http://hall"}  # the test clients' own origin (base_url http://hall)


class Pair(msgspec.Struct):
    one: httpx.AsyncClient
    two: httpx.AsyncClient
    settings: HallSettings


@pytest.fixture(scope="module")
async def gateways(settings: HallSettings) -> AsyncIterator[Pair]:
    """Two gateway instances of one hall."""
    fresh = await fresh_settings(settings)
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(2):
            app = create_app(fresh, SimpleSpanProcessor(InMemorySpanExporter()))
            await stack.enter_async_context(lifespan(app))
            clients.append(await stack.enter_async_context(asgi_client(app)))
        yield Pair(clients[0], clients[1], fresh)


async def _token(client: httpx.AsyncClient, user_id: str) -> str:
    signed = await client.post("/api/session", json={"user_id": user_id, "password": "hall2026"})
    assert signed.status_code == 201, signed.text
    token: str = signed.json()["token"]
    return token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _old_scheme(secret: str, user_id: str, expires: int) -> str:
    """A token as the hall minted them before (base64 body, truncated HMAC-SHA256), with the key it used."""
    key = hashlib.sha256(b"hall-session:" + secret.encode()).digest()
    body = base64.urlsafe_b64encode(f"{user_id}|{expires}".encode()).decode().rstrip("=")
    return f"{body}.{hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:32]}"


def _jwt(key: str | bytes, sub: str, exp: int, alg: str = "HS256") -> str:
    claims = {"sub": sub, "exp": exp, "iat": int(SYSTEM_CLOCK.now().timestamp()), "jti": "forged"}
    return jwt.encode(claims, key, algorithm=alg)


YEAR_2100 = 4102444800


async def test_the_real_token_works_and_is_a_jwt_with_jti(gateways: Pair) -> None:
    token = await _token(gateways.one, "op-qian")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert {"sub", "exp", "iat", "jti"} <= claims.keys()
    assert claims["sub"] == "op-qian"
    for client in (gateways.one, gateways.two):
        assert (await client.get(OPERATOR_ONLY, headers=_bearer(token))).status_code == 200


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda: _old_scheme(OLD_DEFAULT, "op-qian", YEAR_2100), id="old-scheme-old-default-secret"),
        pytest.param(lambda: _jwt(OLD_DEFAULT * 2, "op-qian", YEAR_2100), id="jwt-old-default-secret"),
        pytest.param(
            lambda: _jwt(derive_key(OLD_DEFAULT, "session-signing").hex(), "zrzy-boss", YEAR_2100),
            id="supervisor-until-2100-derived-from-old-default",
        ),
        pytest.param(lambda: _jwt("another-hall-" * 4, "zrzy-boss", YEAR_2100), id="supervisor-until-2100-other-key"),
        pytest.param(lambda: _jwt("", "op-qian", YEAR_2100, alg="none"), id="alg-none"),
    ],
)
async def test_a_forged_token_is_refused(gateways: Pair, forge: object) -> None:
    token = forge()  # type: ignore[operator]
    for client in (gateways.one, gateways.two):
        answer = await client.get(OPERATOR_ONLY, headers=_bearer(token))
        assert answer.status_code == 401, answer.text


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Bearer 令牌".encode(), id="non-ascii"),
        pytest.param(b"Bearer \xff\xfe", id="latin-1-bytes"),
        pytest.param(b"Bearer ", id="empty"),
        pytest.param(b"Bearer a.b", id="two-parts"),
        pytest.param(b"Bearer a.b.c", id="three-parts-garbage"),
        pytest.param(b"Bearer " + b"A" * 10000, id="huge"),
        pytest.param(b"Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", id="jwt-no-claims"),
    ],
)
async def test_a_garbled_token_of_any_shape_is_401_not_500(gateways: Pair, header: bytes) -> None:
    answer = await gateways.one.get(OPERATOR_ONLY, headers={b"Authorization": header})
    assert answer.status_code == 401, answer.text


async def test_an_expired_token_is_refused(gateways: Pair) -> None:
    past = ManualClock(SYSTEM_CLOCK.now() - timedelta(hours=13))
    stale = Directory.for_gateway(gateways.settings, clock=past)
    user = stale.get("op-qian")
    assert user is not None
    answer = await gateways.one.get(OPERATOR_ONLY, headers=_bearer(stale.token(user)))
    assert answer.status_code == 401
    assert "过期" in answer.json()["detail"]


async def test_a_cookie_after_logout_is_refused_on_every_instance(gateways: Pair) -> None:
    login = await gateways.one.post(
        "/login", data={"user_id": "op-qian", "password": "hall2026"}, headers=ORIGIN, follow_redirects=False
    )
    assert login.status_code == 303
    cookie = {"Cookie": f"hall_session={login.cookies['hall_session']}"}
    gateways.one.cookies.clear()
    assert (await gateways.two.get("/sla", headers=cookie, follow_redirects=False)).status_code == 200
    out = await gateways.one.post("/logout", headers={**cookie, **ORIGIN}, follow_redirects=False)
    gateways.one.cookies.clear()
    assert out.status_code == 303
    for client in (gateways.one, gateways.two):
        page = await client.get("/sla", headers=cookie, follow_redirects=False)
        assert page.status_code in (302, 303, 307)
        assert page.headers["location"].startswith("/login")
        api = await client.get(OPERATOR_ONLY, headers=cookie)
        assert api.status_code == 401
        assert "注销" in api.json()["detail"]
        client.cookies.clear()


@pytest.mark.parametrize("how", ["post", "delete"])
async def test_an_api_token_after_logout_is_refused_on_every_instance(gateways: Pair, how: str) -> None:
    token = await _token(gateways.one, "op-qian")
    if how == "post":
        out = await gateways.two.post("/api/session/logout", headers=_bearer(token))
    else:
        out = await gateways.two.delete("/api/session", headers=_bearer(token))
    assert out.status_code == 200, out.text
    for client in (gateways.one, gateways.two):
        assert (await client.get(OPERATOR_ONLY, headers=_bearer(token))).status_code == 401
    assert (await gateways.one.post("/api/session/logout", headers=_bearer(token))).status_code == 401
    fresh = await _token(gateways.one, "op-qian")  # signing in again works
    assert (await gateways.two.get(OPERATOR_ONLY, headers=_bearer(fresh))).status_code == 200


async def test_an_operator_revokes_every_token_of_a_user(gateways: Pair) -> None:
    victim = [await _token(gateways.one, "clerk-wang"), await _token(gateways.two, "clerk-wang")]
    other = await _token(gateways.one, "clerk-zhang")
    for token in victim:
        assert (await gateways.two.get("/api/deliveries", headers=_bearer(token))).status_code == 200
    refused = await gateways.one.post("/api/users/clerk-wang/revoke", headers=_bearer(other))
    assert refused.status_code == 403  # only operators
    operator = await _token(gateways.one, "op-qian")
    unknown = await gateways.one.post("/api/users/nobody/revoke", headers=_bearer(operator))
    assert unknown.status_code == 404
    revoked = await gateways.one.post("/api/users/clerk-wang/revoke", headers=_bearer(operator))
    assert revoked.status_code == 200, revoked.text
    for client in (gateways.one, gateways.two):
        for token in victim:
            answer = await client.get("/api/deliveries", headers=_bearer(token))
            assert answer.status_code == 401
            assert "撤销" in answer.json()["detail"]
        assert (await client.get("/api/deliveries", headers=_bearer(other))).status_code == 200
    again = await _token(gateways.two, "clerk-wang")  # a new sign-in after the revocation is valid
    assert (await gateways.one.get("/api/deliveries", headers=_bearer(again))).status_code == 200


async def test_rotation_accepts_the_previous_secrets_tokens_and_signs_with_the_new_one(gateways: Pair) -> None:
    old_token = await _token(gateways.one, "op-qian")
    rotated = msgspec.structs.replace(
        gateways.settings, secret="rotated-" + "r7" * 20, secret_previous=gateways.settings.secret
    )
    closed = msgspec.structs.replace(rotated, secret_previous="")
    async with AsyncExitStack() as stack:
        clients = {}
        for name, conf in (("rotated", rotated), ("closed", closed)):
            app = create_app(conf, SimpleSpanProcessor(InMemorySpanExporter()))
            await stack.enter_async_context(lifespan(app))
            clients[name] = await stack.enter_async_context(asgi_client(app))
        assert (await clients["rotated"].get(OPERATOR_ONLY, headers=_bearer(old_token))).status_code == 200
        new_token = await _token(clients["rotated"], "op-qian")
        assert (await clients["closed"].get(OPERATOR_ONLY, headers=_bearer(new_token))).status_code == 200
        # Once HALL_SECRET_PREVIOUS is removed, the old secret's tokens end; the old hall refuses the new ones.
        assert (await clients["closed"].get(OPERATOR_ONLY, headers=_bearer(old_token))).status_code == 401
        assert (await gateways.one.get(OPERATOR_ONLY, headers=_bearer(new_token))).status_code == 401


def _cookie_header(response: httpx.Response) -> str:
    return response.headers["set-cookie"].lower()


async def test_the_session_cookie_is_httponly_and_samesite_strict(gateways: Pair) -> None:
    login = await gateways.one.post(
        "/login", data={"user_id": "clerk-zhang", "password": "hall2026"}, follow_redirects=False
    )
    gateways.one.cookies.clear()
    flags = _cookie_header(login)
    assert "httponly" in flags
    assert "samesite=strict" in flags
    assert "secure" not in flags  # plain http on a local hall: a Secure cookie would never come back


async def test_the_session_cookie_is_secure_when_the_public_url_is_https(gateways: Pair) -> None:
    public = msgspec.structs.replace(gateways.settings, public_url="https://hall.naiman.example")
    app = create_app(public, SimpleSpanProcessor(InMemorySpanExporter()))
    async with lifespan(app), asgi_client(app) as client:
        login = await client.post(
            "/login", data={"user_id": "clerk-zhang", "password": "hall2026"}, follow_redirects=False
        )
        flags = _cookie_header(login)
        assert "secure" in flags
        assert "httponly" in flags
        assert "samesite=strict" in flags
        # The public URL's origin is the hall's own: a cookie-borne change from it is accepted.
        cookie = {"Cookie": f"hall_session={login.cookies['hall_session']}"}
        client.cookies.clear()
        out = await client.post(
            "/logout", headers={**cookie, "Origin": "https://hall.naiman.example"}, follow_redirects=False
        )
        assert out.status_code == 303


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Origin": "http://evil.example"}, id="foreign-origin"),
        pytest.param({"Origin": "null"}, id="null-origin"),
        pytest.param({"Referer": "http://evil.example/page"}, id="foreign-referer"),
        pytest.param({}, id="no-origin-no-referer"),
        pytest.param({"Origin": "http://hall.evil.example"}, id="look-alike-origin"),
    ],
)
async def test_a_cookie_borne_change_from_another_origin_is_refused(gateways: Pair, headers: dict[str, str]) -> None:
    token = await _token(gateways.one, "op-qian")
    cookie = {"Cookie": f"hall_session={token}"}
    for path in ("/logout", "/api/session/logout"):
        answer = await gateways.one.post(path, headers={**cookie, **headers}, follow_redirects=False)
        gateways.one.cookies.clear()
        assert answer.status_code == 403, (path, answer.text)
        assert "跨站" in answer.json()["detail"]
    # Nothing happened: the session still works.
    assert (await gateways.one.get(OPERATOR_ONLY, headers=cookie)).status_code == 200
    gateways.one.cookies.clear()
    # The same request from the hall's own page, or by Referer of its own origin, goes through.
    own = await gateways.one.post(
        "/api/session/logout", headers={**cookie, "Referer": "http://hall/sla"}, follow_redirects=False
    )
    gateways.one.cookies.clear()
    assert own.status_code == 200


async def test_a_bearer_client_is_not_subject_to_the_origin_check(gateways: Pair) -> None:
    token = await _token(gateways.one, "op-qian")
    answer = await gateways.one.post(
        "/api/session/logout", headers={**_bearer(token), "Origin": "http://elsewhere.example"}
    )
    assert answer.status_code == 200
