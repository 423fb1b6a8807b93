"""Every request admitted once: the caller's rate counted and its session resolved (token, expiry, revocation) in one
Redis round trip, and cookie-borne changes CSRF-checked.

Rate: ``per_minute`` requests per caller (a fixed window in Redis, shared by every gateway; :mod:`limits`).
Session: the token's signature, shape and expiry are checked here; whether it was logged out or its user revoked
is read from Redis in the same pipeline as the rate count (one round trip for both, on every request).

CSRF: a state change (POST, PUT, PATCH, DELETE) that carries the session cookie and no ``Authorization: Bearer``
header must come from the hall's own pages: its ``Origin`` (or, without one, its ``Referer``) must be the origin
of ``HALL_PUBLIC_URL`` or the request's own origin (scheme and ``Host``, for a hall used locally). A foreign,
``null`` or missing origin → 403. The cookie is also ``SameSite=strict``; the check holds where that is not enough
(old browsers, sibling sub-domains). Bearer clients are not exposed to CSRF: a browser never adds the header.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar import Request
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from services.gateway.limits import LimitStore, count_request, counted_path, refuse_over_limit
from services.gateway.users import COOKIE, Directory, Session, bearer
from shared.clock import SYSTEM_CLOCK, Clock
from shared.settings import HallSettings

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-cased; empty for anything that is not http(s)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(request: Request[Any, Any, Any], settings: HallSettings) -> set[str]:
    allowed = {origin_of(settings.public_url)} if settings.public_url else set()
    host = request.headers.get("host", "")
    if host:
        allowed.add(f"{request.url.scheme}://{host}".lower())
    allowed.discard("")
    return allowed


def check_csrf(request: Request[Any, Any, Any], settings: HallSettings) -> None:
    if request.method not in UNSAFE or bearer(request) is not None or COOKIE not in request.cookies:
        return
    origin = request.headers.get("origin")
    claimed = origin_of(origin) if origin else origin_of(request.headers.get("referer", ""))
    if not claimed or claimed not in allowed_origins(request, settings):
        shown = origin or request.headers.get("referer") or "（无 Origin 与 Referer）"
        raise PermissionDeniedException(f"跨站请求被拒绝：来源 {shown[:200]} 不是本大厅的地址")


class Admission(ASGIMiddleware):
    def __init__(
        self, users: Directory, settings: HallSettings, store: LimitStore, per_minute: int, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.users = users
        self.settings = settings
        self.store = store
        self.per_minute = per_minute
        self.clock = clock

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        counted = self.per_minute > 0 and counted_path(scope)
        sessioned = not _no_session_there(scope)
        request: Request[Any, Any, Any] = Request(scope)
        outcome = self.users.presented(request) if sessioned else None
        revocable = isinstance(outcome, Session) and self.users.revocable
        if counted or revocable:
            now = self.clock.now().timestamp()
            pipe = self.store.client().pipeline(transaction=False)
            if counted:
                count_request(pipe, self.settings, scope, now)
            if isinstance(outcome, Session) and revocable:
                pipe.mget(self.users.revocation_keys(outcome))
            found = await pipe.execute()  # a Redis error: 503 with Retry-After (the app's handler)
            if counted:
                refuse_over_limit(int(found[0]), self.per_minute, now)
            if isinstance(outcome, Session) and revocable:
                try:
                    self.users.judge(outcome, found[-1])
                except NotAuthorizedException as refused:
                    outcome = refused
        if sessioned:
            check_csrf(request, self.settings)
            self.users.settle(request, outcome)
        await next_app(scope, receive, send)


def _no_session_there(scope: Scope) -> bool:
    """Static files and the health check: no session, no Redis round trip for them."""
    path = str(scope.get("path", ""))
    return path.startswith("/static/") or path == "/health"
