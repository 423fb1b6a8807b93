"""一窗受理 over the real Kafka and Redis: every acceptance rule through the gateway's API, bad input included."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
from stdnum.cn import ric

from tests.integration.conftest import InProcessHall
from tests.journeys import APPLICATION, CLERK, KIOSK, auth
from tests.support import eventually

pytestmark = pytest.mark.integration

SEAL = "11150525000118001"  # 查封登记 (即办件): M01, M02
OBJECTION = "11150525000118002"  # 异议登记: M01 申请书, M02 申请人身份证明 (可复用), M03
CORRECTION = "11150525000118003"  # 更正登记: M01 申请书, M02 申请人身份证明 (可复用), M03
QUALIFICATION = "11150525000120006"  # 建设工程企业资质: M03, M04 可容缺; M05 可告知承诺; promised 10 WD
MARRIAGE = "11150525000140004"  # 结婚登记, 跨省通办
GAS = "11150525000120002"  # 用气报装: no 告知承诺
BUSINESS = "11150525YJS0001"  # 企业开办
CONSTRUCTION = "11150525YJS0004"  # 工程建设项目审批
BUSINESS_FORM = ["reg.M01", "reg.M02", "reg.M03", "reg.M04", "tax.M02", "ss.M02"]
LISTED = "150525198806152032"  # on data/credit.toml's list
REPAIRED = "150525198503120025"  # listed, credit repaired in 2025
_serial = itertools.count(100)


def an_id(region: str = "150525", born: str = "19900101") -> str:
    """A fresh valid 居民身份证号, so each test's applicant has nothing on file from another test."""
    body = f"{region}{born}{next(_serial) % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def application(item: str, materials: list[str], id_number: str | None = None, **extra: Any) -> dict[str, Any]:
    applicant = {"name": "赵小红", "id_type": "居民身份证", "id_number": id_number or an_id()}
    # No channel: it is the caller's (window for a clerk, kiosk for a kiosk).
    return {"item_code": item, "applicant": applicant, "materials": materials, **extra}


async def post(hall: InProcessHall, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return await hall.client.post("/api/cases", json=body, headers=headers or CLERK)


async def dossier(hall: InProcessHall, case_no: str, ready: str = "case_no") -> dict[str, Any]:
    """The case as signed-in staff see it, once the read model holds ``ready``."""

    async def probe() -> dict[str, Any] | None:
        response = await hall.client.get(f"/api/cases/{case_no}", headers=CLERK)
        if response.status_code != 200:
            return None
        found: dict[str, Any] | None = response.json()["dossier"]
        return found if found and found.get(ready) else None

    return await eventually(probe)


# ---------------------------------------------------------------- 受理, 首问负责, version kept


async def test_a_complete_application_is_accepted_and_owned_by_the_accepting_clerk(hall: InProcessHall) -> None:
    response = await post(hall, application(SEAL, ["M01", "M02"]))
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["outcome"] == "受理"
    assert answer["case_no"].startswith("150525")
    assert answer["point_name"] == "奈曼旗政务服务中心"
    case = await dossier(hall, answer["case_no"])
    assert (case["owner"], case["owner_name"]) == ("clerk-zhang", "张敏")
    assert case["item_version"] == "2021-11-15"
    assert case["point_name"] == "奈曼旗政务服务中心"
    assert [m["code"] for m in case["materials"]] == ["M01", "M02"]
    assert case["id_masked"].startswith("150525")
    assert "*" in case["id_masked"]
    anonymous = await hall.client.get(f"/api/cases/{answer['case_no']}")
    assert anonymous.status_code == 401, "only signed-in staff allowed to see the case read it (access.py)"


async def test_the_receipt_gets_the_promised_deadline_from_timing(hall: InProcessHall) -> None:
    response = await post(hall, application(QUALIFICATION, ["M01", "M02", "M03", "M04", "M05"]))
    assert response.status_code == 201, response.text
    case = await dossier(hall, response.json()["case_no"], ready="promised_deadline")
    assert case["promised_deadline"] > case["at"]
    page = await hall.client.get(f"/desk/cases/{case['case_no']}", headers=CLERK)
    assert page.status_code == 200
    assert "受理回执" in page.text
    assert "计算中" not in page.text


async def test_a_case_keeps_the_catalogue_version_in_force_when_it_was_accepted(hall: InProcessHall) -> None:
    response = await post(hall, application(GAS, ["M01", "M02"]))
    assert response.status_code == 201, response.text
    assert response.json()["promised_limit"] == {"value": 5, "unit": "WD"}, "用气: 6 → 5 working days since 2022-07"
    case = await dossier(hall, response.json()["case_no"])
    assert case["item_version"] == "2022-07-01"
    assert case["promised_limit"] == {"value": 5, "unit": "WD"}
    assert case["statutory_limit"] == {"value": 20, "unit": "WD"}


# ---------------------------------------------------------------- 一次告知


async def test_everything_missing_is_told_at_once_with_reasons(hall: InProcessHall) -> None:
    response = await post(hall, application(QUALIFICATION, ["M02"]))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["outcome"] == "待补正"
    assert answer["case_no"] == ""
    reasons = {m["code"]: m["reason"] for m in answer["missing"]}
    assert list(reasons) == ["M01", "M03", "M04", "M05"]
    assert reasons["M01"] == "必备材料未提交"
    assert "可容缺" in reasons["M03"]
    assert "容缺承诺书" in reasons["M03"]
    assert "告知承诺书" in reasons["M05"]


async def test_a_bundle_tells_every_missing_material_of_every_child_at_once(hall: InProcessHall) -> None:
    response = await post(hall, application(BUSINESS, ["reg.M01"]))
    assert response.status_code == 200, response.text
    assert [m["code"] for m in response.json()["missing"]] == BUSINESS_FORM[1:]


# ---------------------------------------------------------------- 不予受理


async def test_the_clerk_refuses_with_a_reason_and_a_notice_appears_in_my_cases(hall: InProcessHall) -> None:
    reason = "申请查封的不动产不在本旗登记范围内"
    response = await post(hall, application(SEAL, ["M01", "M02"], refusal_reason=reason))
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["outcome"] == "不予受理"
    assert answer["detail"] == f"不符合受理条件：{reason}"
    case_no = answer["case_no"]
    assert case_no.startswith("150525")
    case = await dossier(hall, case_no)
    assert case["outcome"] == "不予受理"
    assert (await hall.client.get(f"/api/cases/{case_no}", headers=CLERK)).json()["state"] == "不予受理"
    notice = await hall.client.get(f"/desk/cases/{case_no}", headers=CLERK)
    assert "不予受理通知书" in notice.text
    assert reason in notice.text
    mine = await hall.client.get("/desk/cases", headers=CLERK)
    assert case_no in mine.text
    theirs = await hall.client.get("/desk/cases", headers=auth("clerk-wang"))
    assert case_no not in theirs.text


async def _refusal_notice(hall: InProcessHall, item: str, materials: list[str]) -> str:
    response = await post(hall, application(item, materials, refusal_reason="申请事项不属于本单位受理范围"))
    assert response.status_code == 422, response.text
    case_no = response.json()["case_no"]
    await dossier(hall, case_no)
    notice = await hall.client.get(f"/desk/cases/{case_no}/document", headers=CLERK)
    assert notice.status_code == 200, notice.text
    return notice.text


async def test_a_refusal_notice_cites_the_law_of_the_items_type_and_offers_the_remedy_it_has(
    hall: InProcessHall,
) -> None:
    public_service = await _refusal_notice(hall, GAS, ["M01", "M02"])  # 20 公共服务: no 复议 or 诉讼
    assert "申请行政复议" not in public_service
    assert "行政许可法" not in public_service
    assert "依据《城镇燃气管理条例》及本事项办事指南的规定，决定不予受理" in public_service
    assert "12345" in public_service
    confirmation = await _refusal_notice(hall, SEAL, ["M01", "M02"])  # 07 行政确认: its own basis, with review
    assert "根据《不动产登记暂行条例》第十四条的规定，决定不予受理" in confirmation
    assert "行政许可法" not in confirmation
    assert "六十日内依法申请行政复议" in confirmation
    licence = await _refusal_notice(hall, QUALIFICATION, ["M01", "M02", "M03", "M04", "M05"])  # 01 行政许可
    assert "《中华人民共和国行政许可法》第三十二条" in licence
    assert "六十日内依法申请行政复议" in licence


async def test_an_applicant_on_the_false_commitment_list_is_excluded_with_the_reason(hall: InProcessHall) -> None:
    body = application(QUALIFICATION, ["M01", "M02", "M03", "M04"], LISTED, commitment_signed=True)
    response = await post(hall, body)
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["outcome"] == "不予受理"
    assert "告知承诺失信名单" in answer["detail"]
    assert "住所使用证明与实际不符" in answer["detail"], "the listing's own reason is given"
    assert "信用修复前不适用告知承诺制" in answer["detail"]
    # Without the commitment, bringing every proof, the same applicant is accepted.
    full = application(QUALIFICATION, ["M01", "M02", "M03", "M04", "M05"], LISTED)
    assert (await post(hall, full)).status_code == 201


async def test_a_repaired_listing_no_longer_excludes(hall: InProcessHall) -> None:
    body = application(QUALIFICATION, ["M01", "M02", "M03", "M04"], REPAIRED, commitment_signed=True)
    response = await post(hall, body)
    assert response.status_code == 201, response.text
    assert response.json()["commitment"] is True


# ---------------------------------------------------------------- 告知承诺


async def test_a_signed_commitment_stands_in_for_the_proof_and_is_recorded(hall: InProcessHall) -> None:
    response = await post(hall, application(QUALIFICATION, ["M01", "M02", "M03", "M04"], commitment_signed=True))
    assert response.status_code == 201, response.text
    case = await dossier(hall, response.json()["case_no"])
    assert case["commitment"] is True
    page = await hall.client.get(f"/desk/cases/{case['case_no']}", headers=CLERK)
    assert "告知承诺书" in page.text


async def test_a_commitment_for_an_item_without_it_is_refused(hall: InProcessHall) -> None:
    response = await post(hall, application(GAS, ["M01", "M02"], commitment_signed=True))
    assert response.status_code == 422
    assert response.json()["detail"] == "“用气报装”未实行告知承诺制，请提交全部证明材料"


# ---------------------------------------------------------------- 容缺受理 and 补齐


async def test_a_deferral_is_accepted_owing_materials_with_a_supplement_deadline_then_completed(
    hall: InProcessHall,
) -> None:
    id_number = an_id()
    limit = {"value": 5, "unit": "WD"}
    body = application(QUALIFICATION, ["M01", "M02", "M05"], id_number, deferral_signed=True, supplement_limit=limit)
    response = await post(hall, body)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["deferred"] is True
    assert answer["owed"] == [
        {"code": "M03", "name": "技术负责人职称证书"},
        {"code": "M04", "name": "注册人员社保缴纳证明"},
    ]
    assert answer["supplement_limit"] == limit
    case_no = answer["case_no"]
    case = await dossier(hall, case_no, ready="supplement_deadline")
    case = await dossier(hall, case_no, ready="promised_deadline")
    assert case["supplement_deadline"] <= case["promised_deadline"], "补齐 never later than the promised time"
    receipt = await hall.client.get(f"/desk/cases/{case_no}", headers=CLERK)
    assert "容缺受理" in receipt.text
    assert "技术负责人职称证书" in receipt.text

    stranger = await hall.client.post(f"/api/cases/{case_no}/materials", json={"materials": ["M01"]}, headers=CLERK)
    assert stranger.status_code == 422
    assert "不在办件" in stranger.json()["detail"]
    assert "M01" in stranger.json()["detail"]

    first = await hall.client.post(f"/api/cases/{case_no}/materials", json={"materials": ["M03"]}, headers=CLERK)
    assert first.status_code == 200, first.text
    assert first.json()["complete"] is False
    assert first.json()["remaining"] == [{"code": "M04", "name": "注册人员社保缴纳证明"}]
    wrong_id = {"materials": ["M04"], "id_number": an_id()}
    refused = await hall.client.post(f"/api/cases/{case_no}/materials", json=wrong_id, headers=KIOSK)
    assert refused.status_code == 404
    last = {"materials": ["M04"], "id_number": id_number}
    done = await hall.client.post(f"/api/cases/{case_no}/materials", json=last, headers=KIOSK)
    assert done.status_code == 200, done.text
    assert done.json()["complete"] is True

    async def owed_nothing() -> dict[str, Any] | None:
        found = await dossier(hall, case_no)
        return found if found["owed"] == [] else None

    case = await eventually(owed_nothing)
    assert case["deferred"] is True
    again = await hall.client.post(f"/api/cases/{case_no}/materials", json={"materials": ["M03"]}, headers=CLERK)
    assert again.status_code == 409
    assert "没有待补齐的材料" in again.json()["detail"]


async def test_deferrable_materials_missing_without_the_signed_deferral_are_told(hall: InProcessHall) -> None:
    response = await post(hall, application(QUALIFICATION, ["M01", "M02", "M05"]))
    assert response.status_code == 200
    assert [m["code"] for m in response.json()["missing"]] == ["M03", "M04"]


async def test_a_key_material_missing_is_never_deferred(hall: InProcessHall) -> None:
    response = await post(hall, application(QUALIFICATION, ["M02", "M05"], deferral_signed=True))
    assert response.status_code == 200
    assert [m["code"] for m in response.json()["missing"]] == ["M01", "M03", "M04"]


async def test_a_supplement_period_longer_than_the_promised_limit_is_refused(hall: InProcessHall) -> None:
    limit = {"value": 11, "unit": "WD"}
    body = application(QUALIFICATION, ["M01", "M02", "M05"], deferral_signed=True, supplement_limit=limit)
    response = await post(hall, body)
    assert response.status_code == 422
    assert response.json()["detail"] == ("补齐期限11个工作日超过承诺办结时限10个工作日：补齐期限不得晚于承诺办结时间")


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("id_type", "number", "reason"),
    [
        ("居民身份证", "150525199001011234", "居民身份证号第18位校验码应为7，实际为4"),
        ("居民身份证", "15052519900101123", "居民身份证号应为18位，实际为17位"),
        ("统一社会信用代码", "91150525MA0Q8K7X3U", "统一社会信用代码第18位校验码应为7，实际为U"),
    ],
)
async def test_a_wrong_id_number_is_refused_naming_the_character(
    hall: InProcessHall, id_type: str, number: str, reason: str
) -> None:
    body = application(SEAL, ["M01", "M02"])
    body["applicant"] = {"name": "某公司", "id_type": id_type, "id_number": number}
    response = await post(hall, body)
    assert response.status_code == 422
    assert response.json()["detail"] == reason


async def test_an_unknown_item_and_a_material_the_item_does_not_have_are_refused(hall: InProcessHall) -> None:
    unknown = await post(hall, application("11150525999999999", []))
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == "未知事项编码：11150525999999999"
    stranger = await post(hall, application(SEAL, ["M01", "M02", "M09"]))
    assert stranger.status_code == 422
    assert stranger.json()["detail"] == "“查封登记”没有这些材料编码：M09"


async def test_a_replayed_idempotency_key_gets_the_first_answer_and_a_changed_body_is_refused(
    hall: InProcessHall,
) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex, **CLERK}
    body = application(SEAL, ["M01", "M02"])
    first = await post(hall, body, key)
    again = await post(hall, body, key)
    assert first.status_code == again.status_code == 201
    assert first.json()["case_no"] == again.json()["case_no"]
    changed = await post(hall, {**body, "materials": ["M01"]}, key)
    assert changed.status_code == 422
    assert "Idempotency-Key 已用于一份内容不同的申请" in changed.json()["detail"]
    other_clerk = await post(hall, body, {"Idempotency-Key": key["Idempotency-Key"], **auth("clerk-wang")})
    assert other_clerk.status_code == 201
    assert other_clerk.json()["case_no"] != first.json()["case_no"], "keys are per caller"


# ---------------------------------------------------------------- 材料复用


async def test_a_material_on_file_from_an_earlier_case_is_not_asked_for_again(hall: InProcessHall) -> None:
    id_number = an_id()
    earlier = await post(hall, application(OBJECTION, ["M01", "M02", "M03"], id_number))
    assert earlier.status_code == 201, earlier.text
    later = await post(hall, application(CORRECTION, ["M01", "M03"], id_number))
    assert later.status_code == 201, later.text
    assert later.json()["reused"] == [{"code": "M02", "name": "申请人身份证明", "case_no": earlier.json()["case_no"]}]
    # A stranger's file is not theirs, and a material that is not reusable is asked for again.
    stranger = await post(hall, application(CORRECTION, ["M01", "M03"]))
    assert [m["code"] for m in stranger.json()["missing"]] == ["M02"]
    not_reusable = await post(hall, application(CORRECTION, ["M02", "M03"], id_number))
    assert [m["code"] for m in not_reusable.json()["missing"]] == ["M01"]


# ---------------------------------------------------------------- 一件事


async def test_starting_a_business_is_one_submission_with_four_children(hall: InProcessHall) -> None:
    response = await post(hall, application(BUSINESS, BUSINESS_FORM))
    assert response.status_code == 201, response.text
    answer = response.json()
    parent = answer["case_no"]
    children = answer["children"]
    assert [c["case_no"] for c in children] == [f"{parent}-0{i}" for i in range(1, 5)]
    assert [c["department"] for c in children] == ["市场监管局", "公安局", "税务局", "人社局"]
    # 刻章、领票、社保 need 设立登记's 营业执照 (一件事的前后置): 0.25 WD after 0.25 WD along the critical path
    assert all(c["promised_limit"] == {"value": 0.25, "unit": "WD"} for c in children)
    assert answer["promised_limit"] == {"value": 0.5, "unit": "WD"}
    case = await dossier(hall, parent)
    assert [c["case_no"] for c in case["children"]] == [c["case_no"] for c in children]


async def test_construction_approval_has_children_in_four_stages_summing_to_sixty_days(hall: InProcessHall) -> None:
    form = (await hall.client.get(f"/api/catalogue/{CONSTRUCTION}", headers=CLERK)).json()
    response = await post(hall, application(CONSTRUCTION, [m["code"] for m in form["materials"]]))
    assert response.status_code == 201, response.text
    children = response.json()["children"]
    assert [c["stage"] for c in children] == [1, 1, 2, 2, 3, 3, 3, 4, 4, 4]
    assert [c["stage_name"] for c in children][::3] == ["用地规划许可", "工程建设许可", "施工许可", "竣工验收"]
    per_stage = {c["stage"]: c["promised_limit"]["value"] for c in children}
    assert sum(per_stage.values()) == 60


# ---------------------------------------------------------------- levels, points, 跨省通办


async def test_a_village_point_accepts_an_item_approved_by_the_banner(hall: InProcessHall) -> None:
    response = await post(hall, application(SEAL, ["M01", "M02"]), auth("clerk-village"))
    assert response.status_code == 201, response.text
    assert response.json()["point_name"] == "白音他拉嘎查便民服务站"
    case = await dossier(hall, response.json()["case_no"])
    assert case["point_level"] == 6
    assert case["approving_department"] == "自然资源局"
    assert case["owner"] == "clerk-village"


async def test_a_town_centre_is_level_five(hall: InProcessHall) -> None:
    response = await post(hall, application(GAS, ["M01", "M02"]), auth("clerk-town"))
    assert response.status_code == 201, response.text
    case = await dossier(hall, response.json()["case_no"])
    assert (case["point_name"], case["point_level"]) == ("大沁他拉镇便民服务中心", 5)
    assert case["approving_department"] == "住建局"


async def test_a_cross_province_item_of_an_applicant_from_elsewhere_goes_to_their_province(
    hall: InProcessHall,
) -> None:
    away = await post(hall, application(MARRIAGE, ["M01", "M02"], an_id(region="130102")))
    assert away.status_code == 201, away.text
    case = await dossier(hall, away.json()["case_no"])
    assert (case["cross_province"], case["jurisdiction"]) == (True, "河北省")
    home = await post(hall, application(MARRIAGE, ["M01", "M02"]))
    case = await dossier(hall, home.json()["case_no"])
    assert (case["cross_province"], case["jurisdiction"]) == (False, "")


# ---------------------------------------------------------------- kiosk lookup


async def test_progress_is_shown_only_to_whoever_gives_the_applicants_id(hall: InProcessHall) -> None:
    id_number = an_id()
    # Accepted at the window (a kiosk only submits for 预审, tests/integration/test_prereview.py); looked up at a kiosk.
    response = await post(hall, application(SEAL, ["M01", "M02"], id_number), CLERK)
    assert response.status_code == 201, response.text
    case_no = response.json()["case_no"]
    await dossier(hall, case_no)
    found = await hall.client.get("/api/lookup", params={"case_no": case_no, "id_number": id_number}, headers=KIOSK)
    assert found.status_code == 200, found.text
    assert found.json()["item_name"] == "查封登记"
    assert found.json()["steps"][0]["summary"].startswith("受理")
    wrong = await hall.client.get("/api/lookup", params={"case_no": case_no, "id_number": an_id()}, headers=KIOSK)
    missing = await hall.client.get(
        "/api/lookup", params={"case_no": "1505252026", "id_number": id_number}, headers=KIOSK
    )
    assert wrong.status_code == missing.status_code == 404
    assert wrong.json()["detail"] == missing.json()["detail"]
    assert case_no not in wrong.text


# ---------------------------------------------------------------- catalogue API


async def test_the_catalogue_is_searched_by_name_code_and_keyword(hall: InProcessHall) -> None:
    by_name = (await hall.client.get("/api/catalogue", params={"q": "企业开办"}, headers=CLERK)).json()
    assert by_name["entries"][0]["code"] == BUSINESS
    by_code = (await hall.client.get("/api/catalogue", params={"q": SEAL}, headers=CLERK)).json()
    assert [e["name"] for e in by_code["entries"]] == ["查封登记"]
    by_keyword = (await hall.client.get("/api/catalogue", params={"q": "天然气"}, headers=CLERK)).json()
    assert [e["name"] for e in by_keyword["entries"]] == ["用气报装"]
    gas = (await hall.client.get(f"/api/catalogue/{GAS}", headers=CLERK)).json()
    assert [(v["effective"], v["promised_limit"]["value"]) for v in gas["versions"]] == [
        ("2021-07-01", 6),
        ("2022-07-01", 5),
    ]
    assert gas["promised_text"] == "5个工作日"
    assert gas["department_uscc"] == "1115052518609139YD"
    unknown = await hall.client.get("/api/catalogue/nothing", headers=CLERK)
    assert unknown.status_code == 404
    assert "nothing" in unknown.json()["detail"]
    assert (await hall.client.get("/api/catalogue")).status_code == 401


async def test_the_journey_application_still_passes(hall: InProcessHall) -> None:
    assert (await post(hall, APPLICATION)).status_code == 201


async def test_the_pages_render_for_their_users(hall: InProcessHall) -> None:
    listing = await hall.client.get("/catalogue", params={"q": "报装"}, headers=auth("op-qian"))
    assert listing.status_code == 200
    assert "用气报装" in listing.text
    assert "11150525YJS0001" not in listing.text
    detail = await hall.client.get(f"/catalogue/{CONSTRUCTION}", headers=CLERK)
    assert detail.status_code == 200
    assert "竣工验收" in detail.text
    assert (await hall.client.get("/desk", headers=CLERK)).status_code == 200
    assert (await hall.client.get("/kiosk", headers=KIOSK)).status_code == 200
    assert (await hall.client.get("/desk", headers=KIOSK)).status_code == 403
    nobody = await hall.client.get("/desk", follow_redirects=False)
    assert nobody.status_code in (302, 303, 307)
    assert nobody.headers["location"].startswith("/login")
