"""The service catalogue (事项目录), loaded from ``data/catalogue.toml``; items are versioned by date."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

import msgspec

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "catalogue.toml"

Unit = Literal["WD", "WH", "ND", "NH"]


class Limit(msgspec.Struct, frozen=True):
    value: float
    unit: Unit


class Material(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    required: bool
    originals: int = 0
    copies: int = 0


class Version(msgspec.Struct, frozen=True):
    effective: date
    statutory: Limit
    promised: Limit


class Item(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: str
    basic_code: str
    name: str
    item_type: str
    legal_basis: str
    department: str
    level: int
    case_type: Literal[1, 2]
    scope: str
    versions: list[Version]
    materials: list[Material]

    def version_on(self, day: date) -> Version | None:
        """The version in force on ``day``: the latest whose effective date is not after it."""
        in_force = [v for v in self.versions if v.effective <= day]
        return max(in_force, key=lambda v: v.effective) if in_force else None


class _File(msgspec.Struct, forbid_unknown_fields=True):
    items: list[Item]


class Catalogue:
    def __init__(self, items: list[Item]) -> None:
        self._items = {item.code: item for item in items}

    def get(self, code: str) -> Item | None:
        return self._items.get(code)

    def __len__(self) -> int:
        return len(self._items)


def load_catalogue(path: Path = DEFAULT_PATH) -> Catalogue:
    return Catalogue(msgspec.toml.decode(path.read_bytes(), type=_File).items)
