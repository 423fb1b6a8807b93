"""Acceptance rules, pure: which materials are missing, and the case number's format."""

from __future__ import annotations

from datetime import datetime

from services.intake.catalogue import Item
from services.intake.messages import MissingMaterial


def missing_materials(item: Item, provided: list[str]) -> list[MissingMaterial]:
    """Every required material not provided, all at once (一次告知)."""
    have = set(provided)
    return [
        MissingMaterial(m.code, m.name, "必备材料未提交") for m in item.materials if m.required and m.code not in have
    ]


def unknown_materials(item: Item, provided: list[str]) -> list[str]:
    known = {m.code for m in item.materials}
    return [code for code in provided if code not in known]


def case_number(region_code: str, accepted_at: datetime, sequence: int) -> str:
    """办件编号: region code + local date + six-digit daily sequence, e.g. 15052520261126000042."""
    return f"{region_code}{accepted_at:%Y%m%d}{sequence:06d}"
