"""The gateway's view of a rating link's token: which case, service and purpose it names.

Only evaluation holds the key and checks the signature; the gateway reads the claims to route the rating to
its case and to show the rater what they are rating, never to decide anything.
"""

from __future__ import annotations

import base64

import msgspec

from shared.settings import HallSettings


class LinkClaims(msgspec.Struct, frozen=True, kw_only=True):
    case_no: str
    stage: str
    purpose: str
    channel: str


def peek(token: str) -> LinkClaims | None:
    body = token.partition(".")[0]
    try:
        return msgspec.json.decode(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)), type=LinkClaims)
    except (msgspec.MsgspecError, ValueError):
        return None


def public_base(settings: HallSettings) -> str:
    """Where the public reaches the hall (``HALL_PUBLIC_URL``; by default this gateway's own address).

    Links and QR codes are built from it, never from the request's Host header, which the sender chooses.
    """
    return (settings.public_url or f"http://{settings.http_host}:{settings.http_port}").rstrip("/")


def rating_url(settings: HallSettings, token: str) -> str:
    return f"{public_base(settings)}/rate/{token}"
