"""The exports' formats (services/gateway/exports/sheets.py): the row cap and its last row, the BOM, rates and times,
the RFC 5987 file name, and a bad format."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
from litestar.exceptions import HTTPException
from openpyxl import load_workbook

from services.gateway.exports import sheets
from services.gateway.exports.sheets import Percent, Row, Table, checked_format, csv_chunks, disposition, xlsx_bytes


async def numbered(count: int) -> AsyncIterator[Row]:
    for n in range(count):
        yield [n, Percent(0.8535), datetime(2026, 11, 30, 1, 30, tzinfo=UTC), None]


def tables(count: int) -> list[Table]:
    return [Table("清单", ("序号", "好评率", "时间", "空"), numbered(count))]


async def test_csv_has_a_bom_local_times_percentages_and_stops_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sheets, "MOST_ROWS", 3)
    data = b"".join([chunk async for chunk in csv_chunks(tables(5))])
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["序号", "好评率", "时间", "空"]
    assert rows[1] == ["0", "85.4%", "2026-11-30 09:30", ""]  # Beijing time
    assert [r[0] for r in rows[1:4]] == ["0", "1", "2"]
    assert len(rows) == 5
    assert rows[4][0].startswith("（已截断")


async def test_xlsx_keeps_numbers_dates_and_percent_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sheets, "MOST_ROWS", 100)
    book = load_workbook(io.BytesIO(await xlsx_bytes(tables(2))))
    sheet = book["清单"]
    assert [c.value for c in sheet[1]] == ["序号", "好评率", "时间", "空"]
    assert sheet["A3"].value == 1
    assert sheet["B2"].value == pytest.approx(0.8535)
    assert sheet["B2"].number_format == "0.0%"
    assert sheet["C2"].value == datetime(2026, 11, 30, 9, 30)
    assert sheet.max_row == 3


def test_the_file_name_is_rfc_5987_with_an_ascii_fallback() -> None:
    value = disposition("差评整改台账-待核实.csv", "followups.csv")
    assert value.isascii()
    assert value.startswith('attachment; filename="followups.csv"; ')
    assert unquote(value.split("filename*=UTF-8''", 1)[1]) == "差评整改台账-待核实.csv"


def test_a_bad_format_is_a_400_naming_it() -> None:
    assert checked_format("xlsx") == "xlsx"
    with pytest.raises(HTTPException) as refused:
        checked_format("xls")
    assert refused.value.status_code == 400
    assert refused.value.detail == "未知的导出格式：xls（可选：csv、xlsx）"


async def test_typed_text_is_never_a_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sheets, "MOST_ROWS", 100)

    async def typed() -> AsyncIterator[Row]:
        yield ['=HYPERLINK("http://x","点我")', "+1", "-2", "@SUM(A1)", "正常", -3]

    data = b"".join([chunk async for chunk in csv_chunks([Table("t", ("a", "b", "c", "d", "e", "f"), typed())])])
    row = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))[1]
    assert row == ['\'=HYPERLINK("http://x","点我")', "'+1", "'-2", "'@SUM(A1)", "正常", "-3"]
    book = load_workbook(io.BytesIO(await xlsx_bytes([Table("t", ("a",), typed())])))
    cell = book["t"]["A2"]
    assert cell.data_type == "s"
    assert cell.value == '=HYPERLINK("http://x","点我")'
    assert book["t"]["F2"].value == -3
