"""Personal data (个人信息保护法): ID numbers, phones and postal addresses sealed with AES-GCM, keyed hashes for
equality lookups, and masks for what devices and the public see.

The gateway seals them as soon as it receives them; intake, routing, evaluation and the gateway's read models keep
and pass on the sealed form (``enc:v1:<base64url(nonce ‖ ciphertext ‖ tag)>``) and unseal it only where the whole
value is needed: a checksum, a province, a rating's ID tail, or an answer to staff who act on the case. Equality
lookups (the false-commitment list, 材料复用, the kiosk's lookup) use :meth:`Pii.lookup_hash`, an HMAC-SHA256 under
a key of its own, so the same number always gives the same hash without being readable.

Both keys come from the install secret (``HALL_SECRET``) with separate labels ("pii-encryption", "pii-lookup"),
through ``shared.secrets.derive_key`` (HKDF). During a rotation (``HALL_SECRET_PREVIOUS`` set) values sealed under
the previous secret still open, and :meth:`Pii.lookup_hashes` gives the previous secret's hash too, so lookups find
what was filed before the rotation; new values are sealed and hashed under the current secret only. A value without
the prefix is taken as plain text (events written before sealing began): :meth:`Pii.unseal` returns it unchanged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from functools import lru_cache
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.secrets import derive_key

if TYPE_CHECKING:
    from shared.settings import HallSettings

PREFIX = "enc:v1:"
ENCRYPTION_LABEL = "pii-encryption"
LOOKUP_LABEL = "pii-lookup"
_NONCE = 12


class UnsealError(ValueError):
    """A sealed value that does not open with this install's key (tampered, or sealed under another secret)."""


def _derive(secret: str, label: str) -> bytes:
    return derive_key(secret, label)


def normalize_id(number: str) -> str:
    """An ID number as compared: no spaces or dashes, check letters upper-case."""
    return re.sub(r"[\s-]", "", number).upper()


class Pii:
    """Seals, opens and hashes personal data under the keys of one install secret."""

    def __init__(self, secret: str, previous: str = "") -> None:
        secrets = [secret, previous] if previous and previous != secret else [secret]
        self._aeads = [AESGCM(_derive(s, ENCRYPTION_LABEL)) for s in secrets]
        self._aead = self._aeads[0]
        self._lookups = [_derive(s, LOOKUP_LABEL) for s in secrets]
        self._lookup = self._lookups[0]

    def seal(self, text: str) -> str:
        """``enc:v1:…`` (a fresh nonce each time); empty and already sealed values are returned as they are."""
        if not text or is_sealed(text):
            return text
        nonce = os.urandom(_NONCE)
        blob = nonce + self._aead.encrypt(nonce, text.encode(), PREFIX.encode())
        return PREFIX + base64.urlsafe_b64encode(blob).decode().rstrip("=")

    def unseal(self, value: str) -> str:
        """The plain text of a sealed value; a value that was never sealed is returned unchanged."""
        if not is_sealed(value):
            return value
        body = value[len(PREFIX) :]
        try:
            blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except binascii.Error as exc:
            raise UnsealError("sealed value is not base64") from exc
        if len(blob) <= _NONCE:
            raise UnsealError("sealed value too short")
        for aead in self._aeads:  # the current key, then the previous one during a rotation
            try:
                return aead.decrypt(blob[:_NONCE], blob[_NONCE:], PREFIX.encode()).decode()
            except (InvalidTag, UnicodeDecodeError):
                continue
        raise UnsealError("sealed value does not open with this install's keys")

    def lookup_hash(self, text: str) -> str:
        """A keyed hash for equality lookups (of the unsealed, normalised value): hex, 64 characters."""
        return hmac.new(self._lookup, self.unseal(text).encode(), hashlib.sha256).hexdigest()

    def lookup_hashes(self, text: str) -> list[str]:
        """The current secret's hash first, then the previous secret's during a rotation (to find older entries)."""
        plain = self.unseal(text).encode()
        return [hmac.new(key, plain, hashlib.sha256).hexdigest() for key in self._lookups]

    def id_hash(self, number: str) -> str:
        """The lookup hash of an ID number, normalised first (spaces, dashes, case)."""
        return self.lookup_hash(normalize_id(self.unseal(number)))


@lru_cache(maxsize=8)
def for_secret(secret: str, previous: str = "") -> Pii:
    """The install's Pii (cached: deriving keys once per secret)."""
    return Pii(secret, previous)


def for_settings(settings: HallSettings) -> Pii:
    """The Pii of the hall's settings: ``HALL_SECRET``, and ``HALL_SECRET_PREVIOUS`` during a rotation."""
    return for_secret(settings.secret, settings.secret_previous)


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


# ------------------------------------------------------------------ masks (what devices and the public see)


def mask_id(number: str) -> str:
    """150525199001011234 → 150***********1234: the first three and the last four characters only."""
    number = number.strip()
    if is_sealed(number):
        return "******"
    if len(number) <= 7:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def mask_phone(phone: str) -> str:
    """13912345678 → 139****5678; a short number keeps only its last two digits."""
    phone = phone.strip()
    if is_sealed(phone):
        return "****"
    if len(phone) >= 7:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * max(0, len(phone) - 2) + phone[-2:]


def mask_address(address: str) -> str:
    """内蒙古自治区通辽市奈曼旗大沁他拉镇建设路12号 → 内蒙古自治区通辽市奈曼旗**********: the part up to the county
    (旗/县/区/市, at most 12 characters) stays, the street and number are hidden."""
    address = address.strip()
    if not address:
        return ""
    if is_sealed(address):
        return "****"
    keep = 0
    for match in re.finditer(r"[省市区县旗盟州]", address[:12]):
        keep = match.end()
    keep = min(keep, len(address) - 4) if keep else min(3, len(address) // 3)
    return address[:keep] + "*" * min(10, len(address) - keep)
