"""One check for every string and number a request body carries, run as each body struct is decoded.

Names and free text reach printed notices, receipts and the public ratings page: a control character, a
bidirectional override or a zero-width character could hide or reorder what a reader sees (a right-to-left
override, U+202E, shows what follows it in reverse). Such a character is refused with 422, naming it (U+XXXX),
the field and its position. Free text (opinions, reasons, notes, addresses) may hold line breaks and tabs;
names and codes may not. Numbers must be finite.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable

import msgspec
from litestar.exceptions import HTTPException

# Fields whose text may run over several lines: \n, \r and \t are allowed there and nowhere else.
MULTILINE = frozenset(
    {
        "text",
        "opinion",
        "reason",
        "refusal_reason",
        "reply",
        "appeal_reason",
        "note",
        "explanation",
        "result",
        "address",
    }
)
LINE_BREAKS = frozenset("\n\r\t")


def hidden_character(value: str, *, multiline: bool) -> tuple[int, str] | None:
    """The first (1-based position, character) a reader would not see as written, or None.

    Refused: controls (Cc, NUL included; line breaks and tabs allowed in multi-line text), format characters
    (Cf: zero-width U+200B–U+200F, bidi embeddings and overrides U+202A–U+202E, isolates U+2066–U+2069, U+FEFF,
    …), and lone surrogates (Cs).
    """
    for position, char in enumerate(value, start=1):
        if char.isprintable() or char == " ":
            continue
        category = unicodedata.category(char)
        if category == "Cc" and multiline and char in LINE_BREAKS:
            continue
        if category in ("Cc", "Cf", "Cs"):
            return position, char
    return None


def describe(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f"（{name}）" if name else "")


def text_problem(field: str, value: str, *, multiline: bool | None = None) -> str | None:
    """Why ``value`` may not stand in ``field`` (zh-CN, naming the character and its position), or None."""
    found = hidden_character(value, multiline=field in MULTILINE if multiline is None else multiline)
    if found is None:
        return None
    position, char = found
    why = "控制字符、双向控制字符和零宽字符会改变文书的显示内容"
    return f"字段 {field} 第{position}个字符 {describe(char)} 不允许：{why}"


def _problems(field: str, value: object) -> Iterable[str]:
    if isinstance(value, str):
        problem = text_problem(field, value)
        if problem:
            yield problem
    elif isinstance(value, float):
        if not math.isfinite(value):
            yield f"字段 {field} 须为有限数值"
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _problems(f"{field}[{index}]", item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _problems(f"{field}（键）", key)
            yield from _problems(f"{field}.{key}", item)


def check_struct(body: msgspec.Struct) -> None:
    """Raise 422 for the first hidden character or non-finite number in the body's own fields.

    Nested structs check themselves when they are decoded (each request body derives from ``In``).
    """
    for field in body.__struct_fields__:
        for problem in _problems(field, getattr(body, field)):
            raise HTTPException(status_code=422, detail=problem)


# A limit's largest value per unit, as a multiple of its largest number of working days (8 office hours a
# working day; calendar days counted generously, 7 for every 5 working days).
_PER_WD = {"WD": 1.0, "WH": 8.0, "ND": 1.4, "NH": 1.4 * 24}
_UNIT_NAMES = {"WD": "个工作日", "WH": "个工作小时", "ND": "个自然日", "NH": "个自然小时"}


def check_limit(field: str, value: float, unit: str, most_wd: float) -> None:
    """Raise 422 unless ``0 < value`` and ``value`` is at most ``most_wd`` working days in ``unit``."""
    most = most_wd * _PER_WD.get(unit, 1.0)
    if not math.isfinite(value) or value <= 0 or value > most:
        raise HTTPException(
            status_code=422,
            detail=f"字段 {field} 须大于 0 且不超过 {most:g}{_UNIT_NAMES.get(unit, unit)}，实际为 {value:g}",
        )
