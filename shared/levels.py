"""The five rating levels (好差评) as one internal enum, and the two code tables that disagree about them.

GB/T 39046-2020 numbers the levels from the best (1 = 非常满意); the rating interfaces of the 好差评 platforms
number them from the worst (1 = 非常不满意). Inside the hall a level is always a :class:`Level`; a number is
turned into one, or one into a number, only at the edge where a code table is named.
"""

from __future__ import annotations

import enum
from typing import Literal

CodeTable = Literal["GB/T 39046", "评价接口"]
CODE_TABLES: tuple[CodeTable, ...] = ("GB/T 39046", "评价接口")


class Level(enum.Enum):
    """From the best to the worst; the last two are a 差评 (bad review)."""

    VERY_SATISFIED = "非常满意"
    SATISFIED = "满意"
    BASICALLY_SATISFIED = "基本满意"
    DISSATISFIED = "不满意"
    VERY_DISSATISFIED = "非常不满意"

    @property
    def rank(self) -> int:
        """0 for the best level … 4 for the worst."""
        return _ORDER.index(self)

    @property
    def bad(self) -> bool:
        """不满意 and 非常不满意 are a 差评 and open a follow-up."""
        return self.rank >= 3

    @property
    def good(self) -> bool:
        """非常满意, 满意 and 基本满意 count as 好评 (国办发〔2019〕51号)."""
        return not self.bad


_ORDER = tuple(Level)
LEVEL_NAMES = tuple(level.value for level in _ORDER)


class UnknownLevel(ValueError):
    """A level name or code that no table knows; the message says what is allowed."""


def parse(name: str) -> Level:
    try:
        return Level(name)
    except ValueError:
        raise UnknownLevel(f"评价等级“{name}”无效，应为：{'、'.join(LEVEL_NAMES)}") from None


def from_code(code: int, table: CodeTable) -> Level:
    """A level from its number in ``table`` (1–5)."""
    if not 1 <= code <= 5:
        raise UnknownLevel(f"{table} 评价代码 {code} 无效，应为 1–5")
    index = code - 1 if table == "GB/T 39046" else 5 - code
    return _ORDER[index]


def to_code(level: Level, table: CodeTable) -> int:
    """The number of ``level`` in ``table``."""
    return level.rank + 1 if table == "GB/T 39046" else 5 - level.rank
