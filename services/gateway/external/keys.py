"""The other jurisdictions' keys for ``POST /api/external/{jurisdiction}/events``: one per jurisdiction.

Configured by ``HALL_EXTERNAL_KEYS_FILE`` (a TOML file, ``[keys]`` with ``"北京市" = "<key>"`` lines, readable by
the hall only) or ``HALL_EXTERNAL_KEYS`` (the same as JSON, ``{"北京市": "<key>"}``). There is no default: without
a configuration the endpoint refuses every call. Each key must be a random string of at least 32 characters (the
install secret's rules); a key is compared in constant time.
"""

from __future__ import annotations

import hmac
import json
import os
from pathlib import Path

import msgspec

from shared.secrets import WeakSecretError, check_secret

FILE_VARIABLE = "HALL_EXTERNAL_KEYS_FILE"
INLINE_VARIABLE = "HALL_EXTERNAL_KEYS"
HEADER = "X-External-Key"
_NOBODY = "\x00" * 48  # compared against when the jurisdiction has no key, so both paths take as long


class _File(msgspec.Struct, forbid_unknown_fields=True):
    keys: dict[str, str] = {}


class ExternalKeys:
    def __init__(self, keys: dict[str, str]) -> None:
        for jurisdiction, key in keys.items():
            check_secret(key, f"{INLINE_VARIABLE}/{FILE_VARIABLE} 中{jurisdiction}的密钥")
        self._keys = {j.strip(): k.encode() for j, k in keys.items()}

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> ExternalKeys:
        env = os.environ if environ is None else environ
        keys: dict[str, str] = {}
        path = env.get(FILE_VARIABLE, "").strip()
        if path:
            keys.update(msgspec.toml.decode(Path(path).read_bytes(), type=_File).keys)
        inline = env.get(INLINE_VARIABLE, "").strip()
        if inline:
            found = json.loads(inline)
            if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
                raise WeakSecretError(f'{INLINE_VARIABLE} 应为 JSON 对象：{{"北京市": "密钥"}}')
            keys.update(found)
        return cls(keys)

    @property
    def configured(self) -> bool:
        return bool(self._keys)

    def jurisdictions(self) -> list[str]:
        return sorted(self._keys)

    def valid(self, jurisdiction: str, key: str | None) -> bool:
        expected = self._keys.get(jurisdiction)
        given = (key or "").encode()
        same = hmac.compare_digest(expected or _NOBODY.encode(), given)
        return expected is not None and bool(key) and same
