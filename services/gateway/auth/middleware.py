"""Every request's session resolved once (token, expiry, revocation in Redis) and cookie-borne changes CSRF-checked.

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
from litestar.exceptions import PermissionDeniedException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from services.gateway.users import COOKIE, Directory, bearer
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


class SessionMiddleware(ASGIMiddleware):
    def __init__(self, users: Directory, settings: HallSettings) -> None:
        self.users = users
        self.settings = settings
        self.should_bypass_for_scope = _no_session_there

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        request: Request[Any, Any, Any] = Request(scope)
        check_csrf(request, self.settings)
        await self.users.resolve(request)
        await next_app(scope, receive, send)


def _no_session_there(scope: Scope) -> bool:
    """Static files and the health check: no Redis round trip for them."""
    path = str(scope.get("path", ""))
    return path.startswith("/static/") or path == "/health"
