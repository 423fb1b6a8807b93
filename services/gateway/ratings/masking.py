"""What the public and devices may see of a rater: a name and an ID number with most of them hidden (个人信息保护).

The ID, phone and address masks live in :mod:`shared.pii` with the sealing they go with; they are re-exported here.
"""

from __future__ import annotations

from shared.pii import mask_address, mask_id, mask_phone

__all__ = ["mask_address", "mask_id", "mask_name", "mask_phone"]


def mask_name(name: str) -> str:
    """赵小红 → 赵**; a company keeps its first two characters (内蒙古某某公司 → 内蒙*****)."""
    name = name.strip()
    if not name or name == "匿名":
        return name or "匿名"
    if len(name) == 1:
        return "*"
    keep = 2 if len(name) > 4 else 1
    return name[:keep] + "*" * (len(name) - keep)
