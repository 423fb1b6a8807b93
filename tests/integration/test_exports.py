"""导出 (issue 17, item 6): the SLA board, the rating statistics and the 差评整改台账 as CSV (UTF-8 with a BOM) and
XLSX (read back with openpyxl), with the page's filters and the list's own authorization, on the in-process hall
over the real Kafka and Redis: a real case and a real bad rating of its 受理 at the kiosk."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook

from shared.clock import SYSTEM_CLOCK
from shared.localtime import LOCAL
from shared.settings import HallSettings
from tests.halls import InProcessHall, fresh_settings, in_process_hall
from tests.journeys import KIOSK, KIOSK_PROOF, auth, submit
from tests.support import eventually

pytestmark = pytest.mark.integration
OPERATOR = auth("op-qian")
WINDOW_DEPARTMENT = "行政审批和政务服务局"  # the banner hall's window: a 受理 rating is charged to it


@pytest.fixture(scope="module")
async def hall(settings: HallSettings) -> AsyncIterator[InProcessHall]:
    async with in_process_hall(await fresh_settings(settings)) as running:
        yield running


@pytest.fixture(scope="module")
async def rated(hall: InProcessHall) -> str:
    """A case accepted at the banner hall and rated 非常不满意 for its 受理 at the kiosk (a bad review)."""
    case_no = await submit(hall.client)
    body = {"level": "非常不满意", "channel": "自助终端", "stage": "受理", "text": "排队太久", **KIOSK_PROOF}

    async def rate() -> Any:  # once the gateway's timeline has the case (it follows Kafka)
        response = await hall.client.post(f"/api/cases/{case_no}/ratings", json=body, headers=KIOSK)
        return None if response.status_code == 404 else response

    response = await eventually(rate, timeout_s=30)
    assert response.status_code == 201, response.text
    return case_no


def csv_rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the file as UTF-8
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def workbook(response: Any) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    return load_workbook(io.BytesIO(response.content), read_only=True)


def filename(response: Any) -> str:
    """The Chinese file name of Content-Disposition's ``filename*`` (RFC 5987), checked to be an attachment."""
    value = response.headers["content-disposition"]
    assert value.startswith('attachment; filename="')
    assert value.isascii()
    return unquote(value.split("filename*=UTF-8''", 1)[1])


async def test_the_board_exports_its_lists_with_the_filters(hall: InProcessHall, rated: str) -> None:
    url = "/api/sla/board/export"

    async def listed() -> list[list[str]] | None:
        rows = csv_rows(await hall.client.get(url, params={"format": "csv", "purpose": "办件"}, headers=OPERATOR))
        return rows if any(rated in r for r in rows) else None

    rows = await eventually(listed, timeout_s=30)
    assert rows[0][:3] == ["清单", "办件编号", "类别"]
    (row,) = [r for r in rows if r[1] == rated]
    cells = dict(zip(rows[0], row, strict=True))
    assert cells["清单"] == "临近办结期限"
    assert cells["类别"] == "办件"
    assert cells["事项"] == "查封登记"
    assert cells["部门"] == "自然资源局"
    assert cells["剩余"].startswith("剩余")
    assert "个工作日" in cells["剩余"]
    assert cells["状态"] == "正常"

    other = await hall.client.get(
        url, params={"format": "csv", "purpose": "办件", "department": "住建局"}, headers=OPERATOR
    )
    assert not [r for r in csv_rows(other) if rated in r]  # the department filter
    steps = await hall.client.get(url, params={"format": "csv", "purpose": "补齐"}, headers=OPERATOR)
    assert not [r for r in csv_rows(steps) if rated in r]  # the purpose filter
    # A department supervisor's export is their own department's, whatever department is asked for.
    boss = await hall.client.get(url, params={"purpose": "办件", "department": "住建局"}, headers=auth("zrzy-boss"))
    assert [r for r in csv_rows(boss) if rated in r]
    assert "时限监控-办件（含子件）-自然资源局-" in filename(boss)

    answer = await hall.client.get(url, params={"format": "xlsx", "purpose": "办件"}, headers=OPERATOR)
    assert filename(answer).startswith("时限监控-办件（含子件）-")
    assert filename(answer).endswith(".xlsx")
    book = workbook(answer)
    assert book.sheetnames == ["清单", "按部门", "按事项", "按首问责任人"]
    sheet = [list(r) for r in book["清单"].iter_rows(values_only=True)]
    (found,) = [r for r in sheet if r[1] == rated]
    deadline = found[sheet[0].index("办结期限")]
    assert deadline > SYSTEM_CLOCK.now().astimezone(LOCAL).replace(tzinfo=None)  # a real date cell, local time
    by_department = {r[0]: r for r in book["按部门"].iter_rows(min_row=2, values_only=True)}
    assert by_department["自然资源局"][1] >= 1  # 正常


@pytest.mark.usefixtures("rated")
async def test_the_statistics_export_their_groups_and_filters(hall: InProcessHall) -> None:
    url = "/api/ratings/stats/export"

    async def counted() -> list[list[str]] | None:
        rows = csv_rows(await hall.client.get(url, params={"by": "department"}, headers=OPERATOR))
        return rows if any(r[0] == WINDOW_DEPARTMENT for r in rows) else None

    rows = await eventually(counted, timeout_s=30)
    assert rows[0][:5] == ["部门", "评价数", "主动评价", "默认评价", "好评率"]
    window = dict(zip(rows[0], next(r for r in rows if r[0] == WINDOW_DEPARTMENT), strict=True))
    assert (window["评价数"], window["差评数"], window["好评率"]) == ("1", "1", "0.0%")
    assert rows[-1][0] == "合计"

    tomorrow = (SYSTEM_CLOCK.now().astimezone(LOCAL) + timedelta(days=1)).date().isoformat()
    later = csv_rows(await hall.client.get(url, params={"by": "department", "since": tomorrow}, headers=OPERATOR))
    assert [r[0] for r in later[1:]] == ["合计"]  # the period filter leaves nothing but the (empty) total
    assert later[-1][1] == "0"
    other = csv_rows(await hall.client.get(url, params={"department": "住建局"}, headers=OPERATOR))
    assert WINDOW_DEPARTMENT not in [r[0] for r in other]

    answer = await hall.client.get(url, params={"format": "xlsx", "by": "department"}, headers=auth("hall-boss"))
    assert filename(answer).startswith("好差评统计-按部门-")
    sheet = workbook(answer)["好差评统计"]
    cells = {r[0].value: r for r in sheet.iter_rows(min_row=2)}
    good_rate = cells[WINDOW_DEPARTMENT][4]
    assert good_rate.value == 0.0
    assert good_rate.number_format == "0.0%"  # a rate is a number shown as a percentage


async def test_the_followup_desk_exports_what_each_reader_sees(hall: InProcessHall, rated: str) -> None:
    url = "/api/ratings/followups/export"

    async def listed() -> list[list[str]] | None:
        rows = csv_rows(await hall.client.get(url, params={"format": "csv"}, headers=auth("hall-boss")))
        return rows if any(rated in r for r in rows) else None

    rows = await eventually(listed, timeout_s=30)
    cells = dict(zip(rows[0], next(r for r in rows if rated in r), strict=True))
    assert (cells["事项"], cells["服务"], cells["部门"]) == ("查封登记", "受理", WINDOW_DEPARTMENT)
    assert (cells["评价"], cells["评价内容"], cells["状态"]) == ("非常不满意", "排队太久", "待核实")
    assert "150525199001011237" not in "".join(",".join(r) for r in rows)  # never an ID number

    done = csv_rows(await hall.client.get(url, params={"status": "整改完成"}, headers=auth("hall-boss")))
    assert done == [rows[0]]  # the status filter: the header only
    staff = csv_rows(await hall.client.get(url, headers=auth("zrzy-li")))
    assert not [r for r in staff if rated in r]  # another department's bad review is not theirs

    answer = await hall.client.get(url, params={"format": "xlsx", "status": "待核实"}, headers=OPERATOR)
    assert filename(answer).startswith("差评整改台账-待核实-")
    sheet = [list(r) for r in workbook(answer)["差评整改台账"].iter_rows(values_only=True)]
    assert [r[0] for r in sheet[1:]].count(rated) == 1


@pytest.mark.parametrize("url", ["/api/sla/board/export", "/api/ratings/stats/export", "/api/ratings/followups/export"])
async def test_a_bad_format_is_a_400_naming_it_and_a_role_without_the_list_a_403(hall: InProcessHall, url: str) -> None:
    bad = await hall.client.get(url, params={"format": "pdf"}, headers=OPERATOR)
    assert bad.status_code == 400, bad.text
    assert bad.json()["detail"] == "未知的导出格式：pdf（可选：csv、xlsx）"
    refused = await hall.client.get(url, params={"format": "csv"}, headers=auth("kiosk-01"))
    assert refused.status_code == 403
    nobody = await hall.client.get(url, params={"format": "csv"})
    assert nobody.status_code == 401


async def test_the_pages_offer_both_exports_with_their_filters(hall: InProcessHall) -> None:
    pages = {
        "/sla?purpose=环节": "/api/sla/board/export?purpose=%E7%8E%AF%E8%8A%82&amp;department=&amp;format=xlsx",
        "/ratings/stats?by=item&since=2026-11-01&clerk=": "/api/ratings/stats/export?by=item&amp;since=2026-11-01&amp;",
        "/ratings/desk?status=整改中": "/api/ratings/followups/export?status=%E6%95%B4%E6%94%B9%E4%B8%AD&amp;format=",
    }
    for page, link in pages.items():
        response = await hall.client.get(page, headers=OPERATOR)
        assert response.status_code == 200, response.text
        assert "导出 CSV" in response.text
        assert "导出 Excel" in response.text
        assert link in response.text, page
        assert "最多 10000 行" in response.text
        for href in re.findall(r'href="(/api/[^"]+/export\?[^"]+)"', response.text):  # the links work as given
            exported = await hall.client.get(html.unescape(href), headers=OPERATOR)
            assert exported.status_code == 200, (href, exported.text)


async def test_the_statistics_form_with_its_date_fields_left_empty_is_answered(hall: InProcessHall) -> None:
    """The form sends since= and until= empty: no bound (it was a 400); a date that is not one is a 400 naming it."""
    form = {"by": "department", "department": "", "item": "", "clerk": "", "since": "", "until": ""}
    page = await hall.client.get("/ratings/stats", params=form, headers=OPERATOR)
    assert page.status_code == 200, page.text
    bad = await hall.client.get("/ratings/stats", params={**form, "since": "2026-13-01"}, headers=OPERATOR)
    assert bad.status_code == 400
    assert "since" in bad.text
