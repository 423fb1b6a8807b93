"""Rating links (SMS, QR code, web): a token bound to one case, one stage and one purpose, signed with HMAC.

The token is ``<claims>.<signature>`` in URL-safe base64. Its nonce is burned when a rating is recorded with it
(in the same Redis transaction as the rating), so a link rates once. The key is derived from the hall's secret
(``HALL_SECRET``) with the label ``rating-link`` (``shared.secrets``) and never leaves the evaluation service: the
gateway asks evaluation to issue a link. During a rotation links signed with ``HALL_SECRET_PREVIOUS`` still verify;
new links are signed with the current secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Literal

import msgspec

from shared.secrets import derive_keys

Purpose = Literal["评价", "追评", "整改评价"]


class Claims(msgspec.Struct, frozen=True, kw_only=True):
    case_no: str
    stage: str
    purpose: Purpose
    channel: str  # the medium the link was issued for: 二维码, 短信, PC or 移动端
    nonce: str


class BadToken(Exception):
    """A token that was not issued by this hall (forged, altered or cut short)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


LABEL = "rating-link"


class LinkSigner:
    def __init__(self, secret: str, previous: str = "") -> None:
        self._keys = derive_keys(secret, LABEL, previous)

    @staticmethod
    def _mac(key: bytes, body: str) -> str:
        return _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())

    def issue(self, case_no: str, stage: str, purpose: Purpose, channel: str) -> tuple[str, Claims]:
        claims = Claims(case_no=case_no, stage=stage, purpose=purpose, channel=channel, nonce=secrets.token_hex(8))
        body = _b64(msgspec.json.encode(claims))
        return f"{body}.{self._mac(self._keys[0], body)}", claims

    def verify(self, token: str) -> Claims:
        body, _, mac = token.partition(".")
        if not mac or not token.isascii():
            raise BadToken("评价码无效：签名不符，可能是伪造或被改动的链接")
        if not any(hmac.compare_digest(mac, self._mac(key, body)) for key in self._keys):
            raise BadToken("评价码无效：签名不符，可能是伪造或被改动的链接")
        try:
            return msgspec.json.decode(_unb64(body), type=Claims)
        except (msgspec.MsgspecError, ValueError):
            raise BadToken("评价码无效：内容无法识别") from None
