"""Headers on every answer of the gateway: the hall's pages run only the hall's own scripts and styles.

The Content-Security-Policy allows scripts and styles from ``/static`` only (no inline ``<script>``, ``style=`` or
``onclick=``), images from the hall and ``data:`` URLs; QR codes are inline SVG markup, which is neither. No page
may be framed (clickjacking), no answer sniffed into another type, and no address leaves with a referrer.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
HEADERS: dict[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        # The OpenAPI viewers (/schema/swagger, …) are the framework's pages with their own inline scripts.
        docs = str(scope.get("path", "")).startswith("/schema")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                for name, value in HEADERS.items():
                    if name not in headers and not (docs and name == "Content-Security-Policy"):
                        headers[name] = value
            await send(message)

        await next_app(scope, receive, send_with_headers)
