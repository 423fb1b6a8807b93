"""Limits at the gateway's door: body size, JSON nesting depth, requests per caller, and ID-check attempts per case.

- A body larger than ``MAX_BODY_BYTES`` (well below Kafka's 1 MB message size, so every command it becomes fits in
  one record) → 413 with the limit; JSON nested deeper than ``MAX_JSON_DEPTH`` → 400, both before the body is
  decoded.
- Every caller (by bearer token, session cookie, or else client address) gets ``api_rate_per_minute`` requests a
  minute, counted in Redis so every gateway instance shares the count → 429 with ``Retry-After`` (counted by
  ``auth.middleware.Admission`` in the round trip that also checks the caller's session).
- A case's applicant check (the last six characters of the ID number at a kiosk rating, the whole number at a
  lookup or a kiosk supplement) fails at most ``TAIL_FAILURES`` times an hour per case number → 429 with
  ``Retry-After``: six characters leave a million guesses, and nobody gets to try them.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any, cast
from urllib.parse import parse_qs

from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from shared.kafka import redis_client
from shared.settings import HallSettings

MAX_BODY_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32
TAIL_FAILURES = 5
TAIL_WINDOW_S = 3600
RATE_WINDOW_S = 60
# Paths no caller is counted for: the hall's own scripts and styles, and the health probe.
UNCOUNTED = ("/static/", "/health")
# Evaluation's refusal of a wrong ID tail names it so (services/evaluation/ratings.py).
WRONG_TAIL = "证件号码后几位"
SUPPLEMENT_PATH = re.compile(r"/api/cases/([^/]+)/materials")


class TooLarge(HTTPException):
    status_code = 413


class TooMany(HTTPException):
    status_code = 429


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in ``body`` (brackets inside strings not counted)."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return 0  # too few brackets to go deep: skip the scan
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    return deepest
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


class BodyLimits(ASGIMiddleware):
    """Reads the body once, refuses it if too large or too deep, and hands it on to the handler."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_JSON_DEPTH) -> None:
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    def _too_large(self, size: int | str) -> TooLarge:
        most = f"{self.max_bytes // 1024} KiB（{self.max_bytes} 字节）"
        return TooLarge(detail=f"请求内容过大：不得超过 {most}，实际为 {size} 字节")

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        headers = dict(cast("list[tuple[bytes, bytes]]", scope.get("headers", [])))
        announced = headers.get(b"content-length", b"").decode("latin-1").strip()
        if announced.isdigit() and int(announced) > self.max_bytes:
            raise self._too_large(announced)
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await next_app(scope, _replay(b"".join(chunks), receive, first=message), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise self._too_large(f"{size}+")
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        if b"json" in headers.get(b"content-type", b"") or body[:1] in (b"[", b"{"):
            depth = json_depth(body)
            if depth > self.max_depth:
                raise HTTPException(status_code=400, detail=f"JSON 嵌套过深：不得超过 {self.max_depth} 层")
        await next_app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive, first: Any = None) -> Receive:
    """A receive that gives the body read already, then whatever the client sends next (a disconnect)."""
    given = False

    async def replayed() -> Any:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        if first is not None:
            return first
        return await receive()

    return cast("Receive", replayed)


def caller_key(scope: Scope) -> str:
    """Who is asking: their bearer token or session cookie (hashed), or else their address."""
    headers = dict(cast("list[tuple[bytes, bytes]]", scope.get("headers", [])))
    credential = headers.get(b"authorization") or headers.get(b"cookie")
    if credential:
        return "t:" + hashlib.sha256(credential).hexdigest()[:24]
    client = scope.get("client")
    return "a:" + (client[0] if client else "unknown")


class LimitStore:
    """The limits' own Redis client, connected on first use.

    Its pool waits for a free connection instead of failing: every request passes through the limits at once
    (a thousand concurrent submissions are a thousand counts), and a full pool must slow them, never answer 500.
    """

    def __init__(self, settings: HallSettings, max_connections: int = 32) -> None:
        self.settings = settings
        self.max_connections = max_connections
        self._client: Redis | None = None

    def client(self) -> Redis:
        if self._client is None:
            # A blocking pool that also waits out a short Redis outage (shared.kafka.redis_client).
            self._client = redis_client(self.settings, self.max_connections)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose(close_connection_pool=True)
            self._client = None


def counted_path(scope: Scope) -> bool:
    """Whether the caller's rate counts this request (everything but the hall's scripts, styles and health)."""
    return not str(scope.get("path", "")).startswith(UNCOUNTED)


def count_request(pipe: Pipeline, settings: HallSettings, scope: Scope, now: float) -> None:
    """Queue the count of one request of the caller in the current window (the first result is the count)."""
    key = settings.key("gateway", "rate", caller_key(scope), str(int(now // RATE_WINDOW_S)))
    pipe.incr(key)
    pipe.expire(key, RATE_WINDOW_S * 2)


def refuse_over_limit(count: int, per_minute: int, now: float) -> None:
    """429 with Retry-After (the end of the window) once the caller's count passed ``per_minute``."""
    if count > per_minute:
        retry = max(1, math.ceil((int(now // RATE_WINDOW_S) + 1) * RATE_WINDOW_S - now))
        raise TooMany(
            detail=f"请求过于频繁：每分钟不得超过 {per_minute} 次，请 {retry} 秒后再试",
            headers={"Retry-After": str(retry)},
        )


def _id_check_key(settings: HallSettings, case_no: str) -> str:
    digest = hashlib.sha256(case_no.strip().encode()).hexdigest()[:24]
    return settings.key("gateway", "idcheck", digest)


async def check_id_attempts(redis: Redis, settings: HallSettings, case_no: str) -> None:
    """Raise 429 with ``Retry-After`` while the case's applicant checks are used up (``TAIL_FAILURES`` an hour)."""
    key = _id_check_key(settings, case_no)
    pipe = redis.pipeline(transaction=False)
    pipe.get(key)
    pipe.ttl(key)
    count, ttl = await pipe.execute()
    if count is not None and int(count) >= TAIL_FAILURES:
        retry = max(1, int(ttl))
        raise TooMany(
            detail=f"证件号码核对失败次数过多（每小时最多 {TAIL_FAILURES} 次）："
            f"请 {math.ceil(retry / 60)} 分钟后再试，或到窗口办理",
            headers={"Retry-After": str(retry)},
        )


async def id_check_failed(redis: Redis, settings: HallSettings, case_no: str) -> None:
    """Count a failed applicant check of the case; the count lasts an hour from the first failure."""
    key = _id_check_key(settings, case_no)
    pipe = redis.pipeline(transaction=True)
    pipe.incr(key)
    pipe.expire(key, TAIL_WINDOW_S, nx=True)
    await pipe.execute()


class IdCheckAttempts(ASGIMiddleware):
    """The lookup by case number and ID number, and a supplement with the ID number: each 404 (the number is not
    the applicant's, or no such case) counts against the case number; after ``TAIL_FAILURES`` an hour, 429."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, settings: HallSettings, store: LimitStore) -> None:
        self.settings = settings
        self.store = store

    def _case_no(self, scope: Scope) -> str | None:
        path: str = scope.get("path", "")
        if path == "/api/lookup":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            return (query.get("case_no") or [""])[0].strip() or None
        match = SUPPLEMENT_PATH.fullmatch(path)
        return match.group(1) if match and scope.get("method") == "POST" else None

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        case_no = self._case_no(scope)
        if case_no is None:
            await next_app(scope, receive, send)
            return
        client = self.store.client()
        await check_id_attempts(client, self.settings, case_no)
        status = 0

        async def watch(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await next_app(scope, receive, watch)
        if status == 404:
            await id_check_failed(client, self.settings, case_no)
