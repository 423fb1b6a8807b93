"""Bad input of every size and shape gets a 4xx with the reason, never a 500 (issue 11, item 6).

A body too large for Kafka, JSON nested too deep, ID numbers in other digits, hidden characters in names and
texts, an endless extension, and a Host header the sender chose: each was a 500 or a quiet acceptance before.
"""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from services.gateway.limits import MAX_BODY_BYTES, MAX_JSON_DEPTH, json_depth
from services.gateway.text import hidden_character
from services.intake.identity import identity_problem, normalize
from tests.halls import InProcessHall
from tests.journeys import APPLICATION, CLERK, STAFF, submit
from tests.support import eventually

pytestmark = pytest.mark.integration

LISTED = "150525198806152032"  # on data/credit.toml's false-commitment list
QUALIFICATION = "11150525000120006"  # 建设工程企业资质: M05 可告知承诺
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def application(name: str = "赵小红", id_number: str = "150525199001011237", **extra: Any) -> dict[str, Any]:
    body = copy.deepcopy(APPLICATION)
    body["applicant"].update(name=name, id_number=id_number)
    body.update(extra)
    return body


# ---------------------------------------------------------------- size and depth


async def test_a_body_too_large_for_kafka_is_refused_with_413(hall: InProcessHall) -> None:
    body = application(refusal_reason="长" * 470_000)  # about 1.4 MB of UTF-8: over Kafka's 1 MB message size
    response = await hall.client.post("/api/cases", json=body, headers=CLERK)
    assert response.status_code == 413, response.text
    assert f"{MAX_BODY_BYTES // 1024} KiB" in response.json()["detail"]


async def test_a_body_just_over_the_limit_without_content_length_is_refused(hall: InProcessHall) -> None:
    async def chunks() -> Any:
        for _ in range(MAX_BODY_BYTES // 4096 + 2):
            yield b" " * 4096

    response = await hall.client.post(
        "/api/cases", content=chunks(), headers={**CLERK, "content-type": "application/json"}
    )
    assert response.status_code == 413, response.text


async def test_deep_json_is_refused_with_400_even_unauthenticated(hall: InProcessHall) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    response = await hall.client.post("/api/cases", content=deep, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert f"{MAX_JSON_DEPTH} 层" in response.json()["detail"]
    signed_in = await hall.client.post(
        "/api/cases", content=deep, headers={**CLERK, "content-type": "application/json"}
    )
    assert signed_in.status_code == 400


def test_json_depth_counts_brackets_outside_strings_only() -> None:
    assert json_depth(b'{"a": "' + b"[" * 100 + b'"}') == 1
    assert json_depth(b"[" * 40 + b"]" * 40) > MAX_JSON_DEPTH
    assert json_depth(b"[" * 20 + b"]" * 20 + b"{}" * 20) == 20
    assert json_depth(b'{"a": "\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}') == 1


# ---------------------------------------------------------------- ID numbers


def test_id_numbers_are_nfkc_normalised_and_ascii_only() -> None:
    assert normalize("居民身份证", LISTED.translate(FULL_WIDTH)) == LISTED
    assert identity_problem("居民身份证", LISTED.translate(FULL_WIDTH)) is None
    arabic = identity_problem("居民身份证", LISTED.translate(ARABIC_INDIC))
    assert arabic is not None
    assert "U+0661" in arabic
    credit = identity_problem("统一社会信用代码", "٩١150525MA0N00000X")
    assert credit is not None
    assert "U+0669" in credit


async def test_a_listed_applicant_in_full_width_digits_is_still_on_the_list(hall: InProcessHall) -> None:
    body = {
        "item_code": QUALIFICATION,
        "applicant": {"name": "赵小红", "id_type": "居民身份证", "id_number": LISTED.translate(FULL_WIDTH)},
        "materials": ["M01", "M02", "M03", "M04"],
        "commitment_signed": True,
    }
    response = await hall.client.post("/api/cases", json=body, headers=CLERK)
    assert response.status_code == 422, response.text
    assert "告知承诺失信名单" in response.json()["detail"]


async def test_a_listed_applicant_in_arabic_indic_digits_is_refused_as_invalid(hall: InProcessHall) -> None:
    body = {
        "item_code": QUALIFICATION,
        "applicant": {"name": "赵小红", "id_type": "居民身份证", "id_number": LISTED.translate(ARABIC_INDIC)},
        "materials": ["M01", "M02", "M03", "M04"],
        "commitment_signed": True,
    }
    response = await hall.client.post("/api/cases", json=body, headers=CLERK)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "U+0661" in detail
    assert "不是允许的字符" in detail


# ---------------------------------------------------------------- hidden characters


@pytest.mark.parametrize(
    ("name", "code", "position"),
    [
        ("赵\u202e小红", "U+202E", 2),  # RIGHT-TO-LEFT OVERRIDE
        ("赵小\u200b红", "U+200B", 3),  # ZERO WIDTH SPACE
        ("赵小红\x00", "U+0000", 4),  # NUL
        ("\u2066赵小红", "U+2066", 1),  # LEFT-TO-RIGHT ISOLATE
        ("赵小红\ufeff", "U+FEFF", 4),  # BOM
        ("赵\n小红", "U+000A", 2),  # a line break in a name
    ],
)
async def test_a_name_with_a_hidden_character_is_refused_naming_it(
    hall: InProcessHall, name: str, code: str, position: int
) -> None:
    response = await hall.client.post("/api/cases", json=application(name=name), headers=CLERK)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert code in detail
    assert f"第{position}个字符" in detail
    assert "name" in detail


async def test_free_text_keeps_its_line_breaks_but_not_an_override(hall: InProcessHall) -> None:
    assert hidden_character("第一行\n第二行\t完", multiline=True) is None
    assert hidden_character("第一行\n第二行", multiline=False) == (4, "\n")
    refused = await hall.client.post(
        "/api/steps/no-such-step/decision", json={"action": "通过", "opinion": "同意\u202e意同不"}, headers=STAFF
    )
    assert refused.status_code == 422, refused.text
    assert "U+202E" in refused.json()["detail"]
    assert "opinion" in refused.json()["detail"]


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize("value", [1e308, 31, 0, -1])
async def test_an_extension_out_of_bounds_is_refused(hall: InProcessHall, value: float) -> None:
    body = {"extension": {"value": value, "unit": "WD"}, "reason": "需要现场核查"}
    response = await hall.client.post("/api/steps/no-such-step/extension", json=body, headers=STAFF)
    assert response.status_code == 422, response.text
    assert "不超过 30个工作日" in response.json()["detail"]


async def test_a_supplement_period_out_of_bounds_is_refused(hall: InProcessHall) -> None:
    body = application(deferral_signed=True, supplement_limit={"value": 1e308, "unit": "WD"})
    response = await hall.client.post("/api/cases", json=body, headers=CLERK)
    assert response.status_code == 422, response.text
    assert "supplement_limit" in response.json()["detail"]


async def test_an_infinite_number_is_refused(hall: InProcessHall) -> None:
    body = b'{"extension": {"value": 1e999, "unit": "WD"}, "reason": "x"}'
    response = await hall.client.post(
        "/api/steps/no-such-step/extension", content=body, headers={**STAFF, "content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text


# ---------------------------------------------------------------- links


async def test_a_rating_link_is_built_from_the_public_url_never_the_host_header(hall: InProcessHall) -> None:
    case_no = await submit(hall.client)

    async def issued() -> httpx.Response | None:
        response = await hall.client.post(
            f"/api/cases/{case_no}/rating-links",
            json={"stage": "受理", "channel": "二维码"},
            headers={**CLERK, "Host": "evil.example"},
        )
        return response if response.status_code == 201 else None

    link = (await eventually(issued)).json()
    settings = hall.settings
    public = (settings.public_url or f"http://{settings.http_host}:{settings.http_port}").rstrip("/")
    assert link["url"] == f"{public}/rate/{link['token']}"
    assert "evil.example" not in link["url"]
    assert "evil.example" not in link["qr_svg"]
