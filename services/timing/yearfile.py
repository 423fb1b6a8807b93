"""A year's working calendar as an operator writes it (TOML), checked before it is loaded.

```toml
year = 2027
label = "2027 年节假日安排（国办发明电〔2026〕X 号）"
workdays = [2027-02-06]  # 调休: weekend days that are worked (top-level keys come before any table)
[[holidays]]            # statutory holidays, each a range of days off
name = "元旦"
from = 2027-01-01
to = 2027-01-03
[[local_holidays]]      # local (e.g. ethnic) holidays decided by the county or the region
name = "…"
from = 2027-07-20
to = 2027-07-20
```
"""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from shared.calendar import YearPlan


class BadYearFile(ValueError):
    """The file cannot be a year's calendar; the message says what is wrong, in Chinese, and where."""

    def __init__(self, message: str, near: object = None) -> None:
        super().__init__(message)
        self.near = near  # the offending key or value, to find its line


def read_year_file(path: Path) -> YearPlan:
    """A year file, checked whole: a bad one is refused naming its line and what is wrong; nothing is kept."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        raise BadYearFile(f"找不到日历文件：{path}") from None
    except UnicodeDecodeError:
        raise BadYearFile(f"日历文件 {path} 不是 UTF-8 文本") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadYearFile(f"日历文件 {path} 不是有效的 TOML：{exc}") from None
    try:
        return parse_year(data, str(path))
    except BadYearFile as bad:
        line = _line_of(text, bad.near)
        if line is None:
            raise
        raise BadYearFile(f"{bad}（第 {line} 行）", bad.near) from None


def _line_of(text: str, near: object) -> int | None:
    """The first line that mentions ``near`` (a key or a value as TOML writes it)."""
    if near is None:
        return None
    needle = near.isoformat() if isinstance(near, date) else str(near)
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line.split("#", 1)[0]:
            return number
    return None


TOP_KEYS = frozenset({"year", "label", "example", "holidays", "local_holidays", "workdays"})
ENTRY_KEYS = frozenset({"name", "from", "to"})


def parse_year(data: dict[str, Any], where: str = "日历文件") -> YearPlan:
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise BadYearFile(
            f"{where}：不认识的项 {'、'.join(unknown)}（可用：{'、'.join(sorted(TOP_KEYS))}）", unknown[0]
        )
    year = data.get("year")
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        raise BadYearFile(f"{where}：year 必须是年份（如 2027）", "year")
    holidays = _ranges(data.get("holidays", []), "holidays", year, where)
    local = _ranges(data.get("local_holidays", []), "local_holidays", year, where)
    workdays = data.get("workdays", [])
    if not isinstance(workdays, list) or not all(type(d) is date for d in workdays):
        raise BadYearFile(f"{where}：workdays 必须是日期列表（如 [{year}-02-06]）", "workdays")
    for day in workdays:
        _in_year(day, year, "workdays", where)
        if day.weekday() < 5:
            raise BadYearFile(f"{where}：调休上班日 {day} 不是周末，无需列出", day)
    clash = sorted((set(holidays) | set(local)) & set(workdays))
    if clash:
        raise BadYearFile(f"{where}：这些日期既是假日又是调休上班日：{'、'.join(map(str, clash))}", clash[0])
    label = data.get("label", f"{year} 年")
    example = data.get("example", False)
    if not isinstance(label, str) or not isinstance(example, bool):
        raise BadYearFile(
            f"{where}：label 须为文字，example 须为 true 或 false", "label" if not isinstance(label, str) else "example"
        )
    return YearPlan(
        year=year,
        label=label,
        holidays=sorted(set(holidays)),
        local_holidays=sorted(set(local) - set(holidays)),
        workdays=sorted(set(workdays)),
        example=example,
    )


def _ranges(entries: object, field: str, year: int, where: str) -> list[date]:
    if not isinstance(entries, list):
        raise BadYearFile(f"{where}：{field} 必须是 [[{field}]] 表的列表", field)
    days: list[date] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise BadYearFile(f"{where}：{field} 的每一项须有 name、from、to", field)
        stray = sorted(set(entry) - ENTRY_KEYS)
        if stray:
            raise BadYearFile(
                f"{where}：{field} 中“{entry.get('name', '')}”有不认识的项 {'、'.join(stray)}"
                "（workdays 等顶层项须写在所有 [[…]] 表之前）",
                stray[0],
            )
        name, first, last = entry.get("name"), entry.get("from"), entry.get("to", entry.get("from"))
        if not isinstance(name, str) or type(first) is not date or type(last) is not date:
            raise BadYearFile(f"{where}：{field} 的每一项须有 name（文字）和 from、to（日期，如 {year}-01-01）", name)
        if last < first:
            raise BadYearFile(f"{where}：{name} 的结束日 {last} 早于开始日 {first}", last)
        _in_year(first, year, name, where)
        _in_year(last, year, name, where)
        day = first
        while day <= last:
            days.append(day)
            day += timedelta(days=1)
    return days


def _in_year(day: date, year: int, what: str, where: str) -> None:
    if day.year != year:
        raise BadYearFile(f"{where}：{what} 的日期 {day} 不在 {year} 年", day)
