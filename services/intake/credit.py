"""告知承诺失信名单 [local]: applicants excluded from 告知承诺 after a false commitment, until their credit is repaired.

The operator edits ``data/credit.toml``; a changed file is read again on the next check, without a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import msgspec

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "credit.toml"


class Listing(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id_number: str
    name: str
    reason: str
    listed_on: date
    repaired_on: date | None = None

    def excludes_on(self, day: date) -> bool:
        return self.listed_on <= day and (self.repaired_on is None or day < self.repaired_on)


class _File(msgspec.Struct, forbid_unknown_fields=True):
    entries: list[Listing] = []


class CreditList:
    """The list, held by keyed hash of each ID number (``key``; default: the number upper-cased), so equal numbers
    meet without the list being kept in memory as plain numbers."""

    def __init__(self, path: Path = DEFAULT_PATH, key: Callable[[str], str] = str.upper) -> None:
        self.path = path
        self.key = key
        self._stamp: float | None = None
        self._entries: dict[str, Listing] = {}

    def _fresh(self) -> dict[str, Listing]:
        stamp = self.path.stat().st_mtime
        if stamp != self._stamp:
            entries = msgspec.toml.decode(self.path.read_bytes(), type=_File).entries
            self._entries, self._stamp = {self.key(e.id_number.upper()): e for e in entries}, stamp
        return self._entries

    def exclusion(self, id_number: str, day: date) -> Listing | None:
        """The listing that excludes ``id_number`` from 告知承诺 on ``day``, or None."""
        listing = self._fresh().get(self.key(id_number.upper()))
        return listing if listing is not None and listing.excludes_on(day) else None
