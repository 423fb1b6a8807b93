"""POST /api/catalogue/{code}/assessment: the desk's live checklist answers what intake decides on submission."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import InProcessHall
from tests.integration.test_intake_rules import GAS, QUALIFICATION, SEAL, an_id, application, post
from tests.journeys import CLERK, KIOSK, STAFF

pytestmark = pytest.mark.integration


async def assess(hall: InProcessHall, code: str, body: dict[str, Any], headers: dict[str, str] = CLERK) -> Any:
    return await hall.client.post(f"/api/catalogue/{code}/assessment", json=body, headers=headers)


@pytest.mark.parametrize(
    ("materials", "signed"),
    [
        (["M01", "M02", "M05"], {}),  # 容缺 materials missing, no 容缺承诺书: told, as deferrable
        (["M02"], {"deferral_signed": True}),  # a 容缺 material cannot save an application missing others
        (["M01", "M02", "M03", "M04"], {}),  # the 可承诺 proof missing, no 告知承诺书
    ],
)
async def test_the_checklist_lists_what_intake_lists_in_its_one_time_notice(
    hall: InProcessHall, materials: list[str], signed: dict[str, bool]
) -> None:
    checked = await assess(hall, QUALIFICATION, {"materials": materials, **signed})
    assert checked.status_code == 200, checked.text
    answer = checked.json()
    assert answer["acceptable"] is False
    submitted = await post(hall, application(QUALIFICATION, materials, an_id(), **signed))
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["outcome"] == "待补正"
    notice = [(m["code"], m["reason"]) for m in submitted.json()["missing"]]
    assert [(m["code"], m["reason"]) for m in answer["missing"]] == notice
    assert answer["summary"].startswith(f"尚缺 {len(notice)} 项")


async def test_deferrable_only_then_signed_is_acceptable_owing_them(hall: InProcessHall) -> None:
    unsigned = (await assess(hall, QUALIFICATION, {"materials": ["M01", "M02", "M05"]})).json()
    assert (unsigned["acceptable"], unsigned["deferrable"]) == (False, True)
    assert [(m["code"], m["deferrable"]) for m in unsigned["missing"]] == [("M03", True), ("M04", True)]
    assert "签署容缺承诺书后可先行受理" in unsigned["summary"]
    signed = (await assess(hall, QUALIFICATION, {"materials": ["M01", "M02", "M05"], "deferral_signed": True})).json()
    assert (signed["acceptable"], signed["missing"]) == (True, [])
    assert [m["code"] for m in signed["owed"]] == ["M03", "M04"]
    assert signed["summary"].startswith("容缺受理：待补齐")
    accepted = await post(hall, application(QUALIFICATION, ["M01", "M02", "M05"], an_id(), deferral_signed=True))
    assert accepted.status_code == 201, accepted.text


async def test_a_signed_commitment_stands_in_and_an_agent_needs_the_letter(hall: InProcessHall) -> None:
    committed = (
        await assess(hall, QUALIFICATION, {"materials": ["M01", "M02", "M03", "M04"], "commitment_signed": True})
    ).json()
    assert committed["acceptable"] is True
    assert [m["code"] for m in committed["by_commitment"]] == ["M05"]
    assert committed["summary"] == "材料齐全，可以受理。"
    by_agent = (await assess(hall, SEAL, {"materials": ["M01", "M02"], "with_agent": True})).json()
    assert [(m["code"], m["name"]) for m in by_agent["missing"]] == [("WTS", "授权委托书")]
    with_letter = (await assess(hall, SEAL, {"materials": ["M01", "M02", "WTS"], "with_agent": True})).json()
    assert with_letter["acceptable"] is True


async def test_bad_input_is_refused_with_a_reason_and_only_clerks_ask(hall: InProcessHall) -> None:
    unknown_item = await assess(hall, "nothing", {"materials": []})
    assert unknown_item.status_code == 404
    assert "nothing" in unknown_item.json()["detail"]
    unknown_code = await assess(hall, SEAL, {"materials": ["M01", "M09"]})
    assert unknown_code.status_code == 422
    assert unknown_code.json()["detail"] == "“查封登记”没有这些材料编码：M09"
    no_commitment = await assess(hall, GAS, {"materials": ["M01"], "commitment_signed": True})
    assert no_commitment.status_code == 422
    assert "未实行告知承诺制" in no_commitment.json()["detail"]
    not_a_list = await assess(hall, SEAL, {"materials": "M01"})
    assert not_a_list.status_code == 400
    assert "materials" in str(not_a_list.json().get("extra")), not_a_list.text
    stray_field = await assess(hall, SEAL, {"materials": [], "colour": "red"})
    assert stray_field.status_code == 400
    assert "colour" in stray_field.text
    assert (await assess(hall, SEAL, {"materials": []}, KIOSK)).status_code == 403
    assert (await assess(hall, SEAL, {"materials": []}, STAFF)).status_code == 403
    assert (await hall.client.post(f"/api/catalogue/{SEAL}/assessment", json={"materials": []})).status_code == 401
