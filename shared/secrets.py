"""The install secret (``HALL_SECRET``): checked once at every service's start, and the keys derived from it.

Every key the hall uses comes from the one secret through HKDF-SHA256 with a label of its own
(``derive_key(settings, "session-signing")``, ``"rating-link"``, ``"pii-encryption"``, ``"pii-lookup"``), so a
key for one purpose never signs or opens anything of another. ``HALL_SECRET_PREVIOUS`` (optional) keeps
tokens and links signed before a rotation valid: ``derive_keys`` gives the current key first, then the previous
one; new tokens are always signed with the current one.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.settings import HallSettings

SECRET_VARIABLE = "HALL_SECRET"  # noqa: S105 (the variable's name, not a secret)
PREVIOUS_VARIABLE = "HALL_SECRET_PREVIOUS"
MIN_SECRET_LENGTH = 32
# Secrets that were ever published (the old development default) or that anyone would guess first.
KNOWN_WEAK = frozenset(
    {
        "dev-only-secret-change-me",
        "secret",
        "changeme",
        "change-me",
        "password",
        "hall2026",
        "test-secret",
    }
)
_SALT = b"service-hall/v1"


class WeakSecretError(ValueError):
    """The install secret is missing, too short or known: no service starts with it."""


def check_secret(secret: str, variable: str = SECRET_VARIABLE, *, required: bool = True) -> None:
    """Refuse a missing, short (< 32 characters) or known-weak secret, naming the variable to fix."""
    if not secret:
        if not required:
            return
        raise WeakSecretError(
            f"{variable} 未设置：服务拒绝启动。请设置至少 {MIN_SECRET_LENGTH} 个字符的随机密钥"
            "（./hall up 会在 .hall/secret 中生成一个），"
            "例如 python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    if len(secret) < MIN_SECRET_LENGTH:
        raise WeakSecretError(
            f"{variable} 太短（{len(secret)} 个字符）：服务拒绝启动。至少需要 {MIN_SECRET_LENGTH} 个字符的随机密钥"
        )
    lowered = secret.strip().lower()
    if lowered in KNOWN_WEAK or len(set(secret)) < 8 or any(weak in lowered for weak in ("change-me", "changeme")):
        raise WeakSecretError(f"{variable} 是已知的弱密钥或示例密钥：服务拒绝启动。请换成随机生成的密钥")


def require_secret(settings: HallSettings) -> None:
    """Every service calls this when it starts: a bad ``HALL_SECRET`` or ``HALL_SECRET_PREVIOUS`` stops it."""
    check_secret(settings.secret, SECRET_VARIABLE)
    check_secret(settings.secret_previous, PREVIOUS_VARIABLE, required=False)


def _hkdf(secret: bytes, label: str, length: int = 32) -> bytes:
    """HKDF-SHA256 (RFC 5869) with a fixed salt and the label as ``info``."""
    prk = hmac.new(_SALT, secret, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + label.encode() + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def derive_key(settings_or_secret: HallSettings | str, label: str, length: int = 32) -> bytes:
    """The key for one purpose (``label``) derived from the current install secret."""
    secret = settings_or_secret if isinstance(settings_or_secret, str) else settings_or_secret.secret
    if not label:
        raise ValueError("derive_key needs a label naming the key's purpose")
    return _hkdf(secret.encode(), label, length)


def derive_keys(settings_or_secret: HallSettings | str, label: str, previous: str = "") -> list[bytes]:
    """Keys that verify: the current secret's first, then ``HALL_SECRET_PREVIOUS``'s during a rotation."""
    if isinstance(settings_or_secret, str):
        current, older = settings_or_secret, previous
    else:
        current, older = settings_or_secret.secret, previous or settings_or_secret.secret_previous
    keys = [derive_key(current, label)]
    if older and older != current:
        keys.append(derive_key(older, label))
    return keys
