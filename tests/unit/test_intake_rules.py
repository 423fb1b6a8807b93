"""受理规则: 一次告知缺件、容缺、告知承诺、材料复用、补齐期限、未知材料、办件编号、按日期取有效版本、目录文件。"""

from __future__ import annotations

import tomllib
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import pytest

from services.intake.messages import MissingMaterial, ReusedMaterial
from services.intake.rules import (
    MISSING_COMMITMENT,
    MISSING_DEFERRABLE,
    assess,
    case_number,
    child_number,
    missing_materials,
    supplement_problem,
    unknown_materials,
)
from shared.catalogue import (
    DEFAULT_PATH,
    Catalogue,
    FormMaterial,
    Item,
    Limit,
    Material,
    Version,
    form_of,
    load_catalogue,
)

LOCAL = ZoneInfo("Asia/Shanghai")
GAS = "11150525000120002"  # 用气报装: M01 用气申请表 (必备), M02 不动产权证书 (必备), M03 授权委托书 (非必备)
CATALOGUE = load_catalogue()


def gas_item() -> Item:
    item = CATALOGUE.get(GAS)
    assert item is not None
    return item


def form(item: Item) -> list[FormMaterial]:
    return form_of(item, {item.code: item})


def an_item(materials: list[Material], versions: list[Version] | None = None) -> Item:
    """A made-up item, so the rules are checked apart from whatever the catalogue file holds today."""
    return Item(
        code="11150525000999009",
        basic_code="0009990009",
        name="测试事项",
        item_type="20",
        legal_basis="《测试条例》",
        department="测试局",
        level=4,
        case_type=2,
        scope="跨县",
        versions=versions or [Version(date(2021, 1, 1), Limit(20, "WD"), Limit(5, "WD"))],
        materials=materials,
    )


FOUR_MATERIALS = [
    Material(code="A1", name="申请书", required=True),
    Material(code="A2", name="营业执照", required=True),
    Material(code="A3", name="授权委托书", required=False),
    Material(code="A4", name="场所证明", required=True),
]


# ---------------------------------------------------------------- 一次告知 (missing_materials)


def test_every_missing_required_material_is_named_at_once() -> None:
    missing = missing_materials(form(an_item(FOUR_MATERIALS)), [])
    assert missing == [
        MissingMaterial("A1", "申请书", "必备材料未提交"),
        MissingMaterial("A2", "营业执照", "必备材料未提交"),
        MissingMaterial("A4", "场所证明", "必备材料未提交"),
    ]


@pytest.mark.parametrize(
    ("provided", "missing_codes"),
    [
        pytest.param([], ["A1", "A2", "A4"], id="nothing"),
        pytest.param(["A3"], ["A1", "A2", "A4"], id="only-the-optional-one"),
        pytest.param(["A2"], ["A1", "A4"], id="one-required"),
        pytest.param(["A4", "A1"], ["A2"], id="order-does-not-matter"),
        pytest.param(["A1", "A1", "A2"], ["A4"], id="duplicates"),
        pytest.param(["A1", "A2", "A4"], [], id="all-required"),
        pytest.param(["A1", "A2", "A3", "A4"], [], id="everything"),
        pytest.param(["a1", "A2", "A4"], ["A1"], id="codes-are-case-sensitive"),
    ],
)
def test_only_required_materials_not_provided_are_missing(provided: list[str], missing_codes: list[str]) -> None:
    missing = missing_materials(form(an_item(FOUR_MATERIALS)), provided)
    assert [m.code for m in missing] == missing_codes
    assert all(m.reason == "必备材料未提交" for m in missing)


def test_an_optional_material_is_never_reported_missing() -> None:
    missing = missing_materials(form(an_item(FOUR_MATERIALS)), [])
    assert "A3" not in {m.code for m in missing}
    assert "授权委托书" not in {m.name for m in missing}


def test_gas_connection_lists_both_required_materials_and_not_the_power_of_attorney() -> None:
    missing = missing_materials(form(gas_item()), [])
    assert [(m.code, m.name) for m in missing] == [("M01", "用气申请表"), ("M02", "不动产权证书")]
    assert missing_materials(form(gas_item()), ["M01", "M02"]) == []


def test_an_item_without_required_materials_misses_nothing() -> None:
    optional_only = [Material(code="B1", name="说明", required=False)]
    assert missing_materials(form(an_item(optional_only)), []) == []


# ---------------------------------------------------------------- 未知材料 (unknown_materials)


@pytest.mark.parametrize(
    ("provided", "unknown"),
    [
        pytest.param([], [], id="nothing"),
        pytest.param(["A1", "A3"], [], id="all-known"),
        pytest.param(["A1", "Z9"], ["Z9"], id="one-unknown"),
        pytest.param(["Z9", "A1", "M01", ""], ["Z9", "M01", ""], id="several-unknown-in-the-order-given"),
    ],
)
def test_unknown_material_codes_are_reported(provided: list[str], unknown: list[str]) -> None:
    assert unknown_materials(form(an_item(FOUR_MATERIALS)), provided) == unknown


def test_an_optional_material_is_a_known_one() -> None:
    assert unknown_materials(form(gas_item()), ["M03"]) == []
    assert unknown_materials(form(gas_item()), ["M04"]) == ["M04"]


# ---------------------------------------------------------------- 办件编号 (case_number)


@pytest.mark.parametrize(
    ("region", "accepted_at", "sequence", "expected"),
    [
        pytest.param("150525", datetime(2026, 11, 26, 10, 0, tzinfo=LOCAL), 42, "15052520261126000042", id="docstring"),
        pytest.param("150525", datetime(2026, 1, 4, 9, 0, tzinfo=LOCAL), 1, "15052520260104000001", id="first-of-day"),
        pytest.param("150525", datetime(2026, 12, 31, 23, 59, tzinfo=LOCAL), 999999, "15052520261231999999", id="max"),
        pytest.param("110101", datetime(2025, 7, 1, 8, 0, tzinfo=LOCAL), 7, "11010120250701000007", id="other-region"),
    ],
)
def test_case_number_is_region_date_and_six_digit_sequence(
    region: str, accepted_at: datetime, sequence: int, expected: str
) -> None:
    number = case_number(region, accepted_at, sequence)
    assert number == expected
    assert len(number) == len(region) + 8 + 6
    assert number.isdigit()
    assert number.startswith(region)
    assert number[len(region) : len(region) + 8] == f"{accepted_at:%Y%m%d}"


def test_case_numbers_of_one_day_sort_by_sequence() -> None:
    day = datetime(2026, 3, 2, 10, 0, tzinfo=LOCAL)
    numbers = [case_number("150525", day, n) for n in (1, 2, 10, 100, 1000)]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == len(numbers)


# ---------------------------------------------------------------- 版本 (Item.version_on)


@pytest.mark.parametrize(
    ("day", "promised_days"),
    [
        pytest.param("2021-06-30", None, id="before-first-version"),
        pytest.param("2021-07-01", 6.0, id="first-version-effective-day"),
        pytest.param("2022-06-30", 6.0, id="last-day-of-first-version"),
        pytest.param("2022-07-01", 5.0, id="second-version-effective-day"),
        pytest.param("2026-11-26", 5.0, id="years-later"),
    ],
)
def test_gas_connection_version_in_force_by_date(day: str, promised_days: float | None) -> None:
    version = gas_item().version_on(date.fromisoformat(day))
    if promised_days is None:
        assert version is None
    else:
        assert version is not None
        assert version.promised == Limit(promised_days, "WD")
        assert version.statutory == Limit(20, "WD")


def test_version_on_does_not_depend_on_the_order_versions_are_listed() -> None:
    early = Version(date(2021, 7, 1), Limit(20, "WD"), Limit(6, "WD"))
    middle = Version(date(2022, 7, 1), Limit(20, "WD"), Limit(5, "WD"))
    late = Version(date(2024, 1, 1), Limit(15, "WD"), Limit(3, "WD"))
    shuffled = an_item(FOUR_MATERIALS, versions=[late, early, middle])
    assert shuffled.version_on(date(2021, 6, 30)) is None
    assert shuffled.version_on(date(2021, 12, 1)) == early
    assert shuffled.version_on(date(2023, 12, 31)) == middle
    assert shuffled.version_on(date(2024, 1, 1)) == late
    assert shuffled.version_on(date(2030, 1, 1)) == late


# ---------------------------------------------------------------- 目录文件 (data/catalogue.toml)

ITEMS = CATALOGUE.items


def test_the_catalogue_file_loads_with_items() -> None:
    assert len(CATALOGUE) > 0
    assert CATALOGUE.get(GAS) is not None
    assert CATALOGUE.get("99999999") is None


def test_every_item_code_is_unique() -> None:
    with DEFAULT_PATH.open("rb") as file:
        listed = [entry["code"] for entry in tomllib.load(file)["items"]]
    assert len(listed) == len(set(listed))
    assert len(CATALOGUE) == len(listed)


@pytest.mark.parametrize("item", ITEMS, ids=[item.code for item in ITEMS])
def test_every_item_follows_the_catalogue_rules(item: Item) -> None:
    assert 0 < len(item.code) <= 24
    assert 0 < len(item.basic_code) <= 10
    assert item.name
    assert item.department
    assert item.versions, "at least one version"
    assert item.materials, "at least one material"
    assert len({v.effective for v in item.versions}) == len(item.versions), "one version per effective date"
    assert len({m.code for m in item.materials}) == len(item.materials), "material codes unique within the item"
    assert all(m.name for m in item.materials)
    for version in item.versions:
        if version.promised.unit == version.statutory.unit:
            assert version.promised.value <= version.statutory.value, "承诺时限不超过法定时限"
        if item.case_type == 1:
            assert version.promised.value == 0, "即办件当场办结"


def test_an_unknown_field_in_the_catalogue_file_is_refused(tmp_path: Path) -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8").replace('scope = "跨县"', 'scope = "跨县"\nowner = "某人"', 1)
    assert "owner" in text
    path = tmp_path / "catalogue.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(msgspec.ValidationError, match="owner"):
        load_catalogue(path)


def test_a_catalogue_keeps_items_by_code() -> None:
    item = an_item(FOUR_MATERIALS)
    catalogue = Catalogue([item])
    assert len(catalogue) == 1
    assert catalogue.get(item.code) is item


# ---------------------------------------------------------------- 容缺、告知承诺、材料复用 (assess)

QUALIFICATION = [
    Material(code="Q1", name="资质申请表", required=True),
    Material(code="Q2", name="营业执照", required=True, reusable=True),
    Material(code="Q3", name="职称证书", required=True, deferrable=True),
    Material(code="Q4", name="社保证明", required=True, deferrable=True),
    Material(code="Q5", name="净资产证明", required=True, commitment=True),
    Material(code="Q6", name="业绩说明", required=False),
]


def qualification() -> list[FormMaterial]:
    return form(an_item(QUALIFICATION))


def test_only_deferrable_missing_with_a_signed_deferral_is_accepted_owing_them() -> None:
    checked = assess(qualification(), ["Q1", "Q2", "Q5"], {}, deferral_signed=True)
    assert checked.missing == []
    assert [m.code for m in checked.owed] == ["Q3", "Q4"]


def test_deferrable_missing_without_a_signature_is_told_with_the_way_out() -> None:
    checked = assess(qualification(), ["Q1", "Q2", "Q5"], {})
    assert [(m.code, m.reason) for m in checked.missing] == [("Q3", MISSING_DEFERRABLE), ("Q4", MISSING_DEFERRABLE)]
    assert checked.owed == []


def test_a_key_material_missing_lists_everything_missing_even_with_a_signed_deferral() -> None:
    checked = assess(qualification(), ["Q2", "Q5"], {}, deferral_signed=True)
    assert [m.code for m in checked.missing] == ["Q1", "Q3", "Q4"], "form order, key and 容缺 together"
    assert checked.owed == []


def test_a_signed_commitment_stands_in_for_the_materials_that_allow_it() -> None:
    without = assess(qualification(), ["Q1", "Q2", "Q3", "Q4"], {})
    assert [(m.code, m.reason) for m in without.missing] == [("Q5", MISSING_COMMITMENT)]
    signed = assess(qualification(), ["Q1", "Q2", "Q3", "Q4"], {}, commitment_signed=True)
    assert signed.missing == []
    assert [m.code for m in signed.by_commitment] == ["Q5"]


def test_a_commitment_never_stands_in_for_a_material_that_does_not_allow_it() -> None:
    checked = assess(qualification(), ["Q2", "Q3", "Q4", "Q5"], {}, commitment_signed=True)
    assert [m.code for m in checked.missing] == ["Q1"]


def test_a_reusable_material_on_file_is_counted_and_said_to_be_reused() -> None:
    on_file = {"营业执照": "15052520260105000007", "资质申请表": "15052520260105000007"}
    checked = assess(qualification(), ["Q1", "Q3", "Q4", "Q5"], on_file)
    assert checked.missing == []
    assert checked.reused == [ReusedMaterial("Q2", "营业执照", "15052520260105000007")]


def test_a_material_that_is_not_reusable_is_asked_for_again_even_on_file() -> None:
    checked = assess(qualification(), ["Q2", "Q3", "Q4", "Q5"], {"资质申请表": "15052520260105000007"})
    assert [m.code for m in checked.missing] == ["Q1"]
    assert checked.reused == []


def test_a_provided_material_is_not_reported_as_reused() -> None:
    checked = assess(qualification(), ["Q1", "Q2", "Q3", "Q4", "Q5"], {"营业执照": "15052520260105000007"})
    assert checked.reused == []


# ---------------------------------------------------------------- 补齐期限 (supplement_problem)


@pytest.mark.parametrize(
    ("requested", "promised", "problem"),
    [
        pytest.param(None, Limit(10, "WD"), None, id="default-is-the-promised-limit"),
        pytest.param(Limit(5, "WD"), Limit(10, "WD"), None, id="shorter"),
        pytest.param(Limit(10, "WD"), Limit(10, "WD"), None, id="equal"),
        pytest.param(Limit(11, "WD"), Limit(10, "WD"), "补齐期限11个工作日超过承诺办结时限10个工作日", id="longer"),
        pytest.param(Limit(3, "ND"), Limit(10, "WD"), "单位须与承诺办结时限一致", id="other-unit"),
        pytest.param(Limit(0, "WD"), Limit(10, "WD"), "必须大于0", id="zero"),
        pytest.param(None, Limit(0, "WD"), "即办件", id="on-the-spot-item"),
    ],
)
def test_a_supplement_period_never_ends_after_the_promised_time(
    requested: Limit | None, promised: Limit, problem: str | None
) -> None:
    found = supplement_problem(requested, promised)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_limits_read_in_chinese() -> None:
    assert Limit(0.5, "WD").text == "0.5个工作日"
    assert Limit(5, "WD").text == "5个工作日"
    assert Limit(2, "NH").text == "2个自然小时"


def test_a_child_number_is_the_parents_with_a_two_digit_place() -> None:
    assert child_number("15052520261126000042", 1) == "15052520261126000042-01"
    assert child_number("15052520261126000042", 12) == "15052520261126000042-12"
