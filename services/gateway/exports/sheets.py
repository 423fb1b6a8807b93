"""Spreadsheets of what a page shows: CSV (UTF-8 with a BOM, so that Excel opens the Chinese right) streamed row
by row, and XLSX (openpyxl's write-only workbook) built from the same rows.

A table is a header and an async iterator of rows, read page by page from the lists' sorted sets (never a scan of
history); an export stops after ``MOST_ROWS`` rows and says so in a last row (``TRUNCATED``). A cell is text, a
number, a moment (shown in the hall's local time) or a :class:`Percent` (a rate: ``85.0%`` in CSV, a number with a
percent format in XLSX); ``None`` is an empty cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from urllib.parse import quote

import anyio.to_thread
from litestar import Response
from litestar.exceptions import HTTPException
from litestar.response import Stream
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell as XlCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from shared.localtime import LOCAL

MOST_ROWS = 10_000  # rows an export holds at most (all its tables together); the pages and the README say so
FORMATS = ("csv", "xlsx")
Format = Literal["csv", "xlsx"]
BOM = "\ufeff"
CSV_TYPE = "text/csv"  # Litestar adds "; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TRUNCATED = f"（已截断：一次最多导出 {MOST_ROWS} 行，请缩小筛选范围）"
FORMAT_TEXT = "导出格式：csv（UTF-8，带 BOM，Excel 可直接打开）或 xlsx"


class Percent(float):
    """A rate (0.853 → 85.3%)."""


Cell = str | int | float | datetime | None
Row = Sequence[Cell]


@dataclass
class Table:
    """One sheet: its title (the XLSX sheet's name), its header and its rows."""

    title: str
    header: Sequence[str]
    rows: AsyncIterator[Row]
    widths: Sequence[int] = field(default_factory=list)


def checked_format(value: str) -> Format:
    if value == "csv":
        return "csv"
    if value == "xlsx":
        return "xlsx"
    raise HTTPException(status_code=400, detail=f"未知的导出格式：{value}（可选：{'、'.join(FORMATS)}）")


def disposition(name: str, ascii_name: str) -> str:
    """``attachment`` with the Chinese file name (RFC 5987/6266 ``filename*``) and a plain ASCII fallback."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, Percent):
        return f"{cell * 100:.1f}%"
    if isinstance(cell, datetime):
        return f"{cell.astimezone(LOCAL):%Y-%m-%d %H:%M}"
    if isinstance(cell, str) and cell.startswith(FORMULA_START):
        return "'" + cell  # text people typed (a rating, a reply) is never a formula to the spreadsheet
    return str(cell)


async def _capped(tables: Sequence[Table]) -> AsyncIterator[tuple[int, Row | None]]:
    """(table index, row) for every row of every table up to MOST_ROWS in all; (index, None) starts a table;
    past the cap one last row says the export was cut."""
    left = MOST_ROWS
    for n, table in enumerate(tables):
        yield n, None
        async for row in table.rows:
            if left == 0:
                yield n, [TRUNCATED]
                return
            left -= 1
            yield n, row


async def csv_chunks(tables: Sequence[Table]) -> AsyncIterator[bytes]:
    """The CSV, a chunk per few rows: the BOM, then each table's header and rows (a blank line between tables)."""
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    async for n, row in _capped(tables):
        if row is None:
            if n:
                out.writerow([])
            out.writerow(tables[n].header)
        else:
            out.writerow([text(c) for c in row])
        if buffer.tell() > 16_384:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _cell(sheet: WriteOnlyWorksheet, value: Cell) -> XlCell:
    if isinstance(value, Percent):
        cell = WriteOnlyCell(sheet, value=float(value))
        cell.number_format = "0.0%"
    elif isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value=value.astimezone(LOCAL).replace(tzinfo=None))
        cell.number_format = "yyyy-mm-dd hh:mm"
    else:
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # openpyxl takes "=…" for a formula: text people typed stays text
    return cell


async def xlsx_bytes(tables: Sequence[Table]) -> bytes:
    """The workbook, a sheet per table (write-only: rows go to a temporary file as they come, not a tree)."""
    book = Workbook(write_only=True)
    sheets: list[WriteOnlyWorksheet] = []
    bold = Font(bold=True)
    async for n, row in _capped(tables):
        if row is None:
            sheet = book.create_sheet(title=tables[n].title[:31])
            for column, width in enumerate(tables[n].widths):
                sheet.column_dimensions[get_column_letter(column + 1)].width = width
            head = []
            for name in tables[n].header:
                cell = WriteOnlyCell(sheet, value=name)
                cell.font = bold
                head.append(cell)
            sheet.append(head)
            sheets.append(sheet)
        else:
            sheet = sheets[-1]
            sheet.append([_cell(sheet, c) for c in row])
    out = io.BytesIO()
    await anyio.to_thread.run_sync(book.save, out)  # zipping takes a moment: not on the event loop
    return out.getvalue()


async def export(tables: Sequence[Table], fmt: Format, name: str, ascii_name: str) -> Response[bytes] | Stream:
    """The answer: a streamed CSV, or the workbook, named ``name``.csv / .xlsx."""
    if fmt == "csv":
        headers = {"Content-Disposition": disposition(f"{name}.csv", f"{ascii_name}.csv")}
        return Stream(csv_chunks(tables), media_type=CSV_TYPE, headers=headers)
    body = await xlsx_bytes(tables)
    headers = {"Content-Disposition": disposition(f"{name}.xlsx", f"{ascii_name}.xlsx")}
    return Response(body, media_type=XLSX_TYPE, headers=headers)
