"""What the public may see of a rater: a name and an ID number with most of them hidden (个人信息保护)."""

from __future__ import annotations


def mask_name(name: str) -> str:
    """赵小红 → 赵**; a company keeps its first two characters (内蒙古某某公司 → 内蒙*****)."""
    name = name.strip()
    if not name or name == "匿名":
        return name or "匿名"
    if len(name) == 1:
        return "*"
    keep = 2 if len(name) > 4 else 1
    return name[:keep] + "*" * (len(name) - keep)


def mask_id(number: str) -> str:
    """150525199001011234 → 150***********1234: the first three and the last four characters only."""
    number = number.strip()
    if len(number) <= 7:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]
