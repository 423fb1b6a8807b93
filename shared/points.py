"""Where applications are accepted: the banner hall, town centres and village points (``data/points.toml``).

Intake records a case's point and level; the gateway shows the point's name on the desk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "data" / "points.toml"


class Point(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: str
    name: str
    level: Literal[4, 5, 6]  # 4 旗县, 5 苏木乡镇, 6 嘎查村


class _File(msgspec.Struct, forbid_unknown_fields=True):
    points: list[Point]


def load_points(path: Path = DEFAULT_PATH) -> dict[str, Point]:
    return {p.code: p for p in msgspec.toml.decode(path.read_bytes(), type=_File).points}
