"""事项目录的内容：DOMAIN 表中每一项都在目录里，时限按日期变化，一件事的子项与阶段，部门的统一社会信用代码。"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import msgspec
import pytest
from stdnum.cn import uscc

from services.gateway.catalogue.model import Catalogue as GatewayCatalogue
from shared.catalogue import (
    DEFAULT_PATH,
    LEVELS,
    Bundle,
    CatalogueError,
    Item,
    Limit,
    critical_path,
    load_catalogue,
)

CATALOGUE = load_catalogue()


def by_name(name: str) -> Item:
    found = [item for item in CATALOGUE.items if item.name == name]
    assert len(found) == 1, f"{name}: {len(found)} items"
    return found[0]


def bundle(name: str) -> Bundle:
    found = [b for b in CATALOGUE.bundles if b.name == name]
    assert len(found) == 1, f"{name}: {len(found)} bundles"
    return found[0]


def promised_on(item: Item | Bundle, day: str) -> Limit:
    version = item.version_on(date.fromisoformat(day))
    assert version is not None
    return version.promised


@pytest.mark.parametrize(
    ("name", "department"),
    [
        ("查封登记", "自然资源局"),
        ("异议登记", "自然资源局"),
        ("更正登记", "自然资源局"),
        ("注销登记", "自然资源局"),
        ("用水报装（无外线工程）", "住建局"),
        ("用水报装（有外线工程）", "住建局"),
        ("低压小微企业用电报装", "供电公司"),
        ("用气报装", "住建局"),
        ("用热报装", "住建局"),
        ("出口退税", "税务局"),
        ("建设工程企业资质", "住建局"),
        ("结婚登记", "民政局"),
        ("工业产品生产许可证", "市场监管局"),
    ],
)
def test_every_item_the_plan_names_is_in_the_catalogue(name: str, department: str) -> None:
    assert by_name(name).department == department


def test_the_existing_codes_still_work() -> None:
    seal = CATALOGUE.get("11150525000118001")
    assert seal is not None
    assert seal.name == "查封登记"
    assert [m.code for m in seal.materials] == ["M01", "M02"]


@pytest.mark.parametrize("name", ["查封登记", "异议登记", "更正登记", "注销登记"])
def test_real_estate_registrations_are_done_on_the_spot(name: str) -> None:
    item = by_name(name)
    assert item.case_type == 1
    assert promised_on(item, "2026-03-02") == Limit(0, "WD")


@pytest.mark.parametrize(
    ("name", "before", "after", "old", "new"),
    [
        ("用气报装", "2022-06-30", "2022-07-01", 6, 5),
        ("低压小微企业用电报装", "2021-12-31", "2022-01-01", 20, 15),
        ("用热报装", "2022-04-30", "2022-05-01", 8, 7),
    ],
)
def test_limits_tighten_on_their_effective_date(name: str, before: str, after: str, old: int, new: int) -> None:
    item = by_name(name)
    assert promised_on(item, before) == Limit(old, "WD")
    assert promised_on(item, after) == Limit(new, "WD")


def test_water_connection_with_outside_works_takes_longer() -> None:
    assert promised_on(by_name("用水报装（无外线工程）"), "2026-03-02") == Limit(2, "WD")
    assert promised_on(by_name("用水报装（有外线工程）"), "2026-03-02") == Limit(5, "WD")
    assert promised_on(by_name("出口退税"), "2026-03-02") == Limit(7, "WD")


@pytest.mark.parametrize("name", ["结婚登记", "工业产品生产许可证"])
def test_cross_province_items(name: str) -> None:
    assert by_name(name).scope == "跨省"


def test_the_qualification_item_has_deferrable_materials_and_a_commitment() -> None:
    item = by_name("建设工程企业资质")
    assert item.commitment
    assert [m.name for m in item.materials if m.deferrable] == ["技术负责人职称证书", "注册人员社保缴纳证明"]
    assert any(m.commitment for m in item.materials)


def parts(b: Bundle) -> list[tuple[str, int]]:
    return [(CATALOGUE.part_item(p).department, p.stage) for p in b.parts]


def test_starting_a_business_is_four_items_of_four_departments_in_half_a_day() -> None:
    b = bundle("企业开办")
    assert [d for d, _ in parts(b)] == ["市场监管局", "公安局", "税务局", "人社局"]
    assert {s for _, s in parts(b)} == {1}, "all in parallel"
    assert promised_on(b, "2026-03-02") == Limit(0.5, "WD")
    # 刻章、领票、社保登记 need 设立登记's 营业执照: 0.25 WD after 0.25 WD, the critical path is the promise
    assert [p.promised for p in b.parts] == [Limit(0.25, "WD")] * 4
    assert [p.needs for p in b.parts] == [[], ["reg"], ["reg"], ["reg"]]
    assert b.lead_department == "行政审批和政务服务局"


@pytest.mark.parametrize("name", ["新购商品房登记", "存量房转移登记"])
def test_housing_registration_is_registration_trade_and_tax_in_one_day(name: str) -> None:
    b = bundle(name)
    assert [d for d, _ in parts(b)] == ["自然资源局", "住建局", "税务局"]
    assert promised_on(b, "2026-03-02") == Limit(1, "WD")


def test_construction_approval_runs_four_stages_whose_limits_add_up_to_sixty_days() -> None:
    b = bundle("工程建设项目审批")
    assert b.stages == ["用地规划许可", "工程建设许可", "施工许可", "竣工验收"]
    stages: dict[int, set[str]] = {}
    limits: dict[int, set[Limit]] = {}
    for p in b.parts:
        stages.setdefault(p.stage, set()).add(CATALOGUE.part_item(p).department)
        assert p.promised is not None
        limits.setdefault(p.stage, set()).add(p.promised)
    assert stages[1] == {"自然资源局", "发改委"}
    assert stages[2] == {"住建局", "自然资源局"}
    assert stages[3] == {"住建局", "交通运输局", "水务局"}
    assert {"住建局", "水务局"} <= stages[4]
    assert all(len(v) == 1 for v in limits.values()), "children of one stage share the stage's limit"
    total = sum(next(iter(v)).value for v in limits.values())
    assert total == 60
    assert promised_on(b, "2026-03-02") == Limit(60, "WD")


@pytest.mark.parametrize("b", CATALOGUE.bundles, ids=[b.name for b in CATALOGUE.bundles])
def test_a_bundles_promise_is_the_sum_of_its_stages(b: Bundle) -> None:
    version = b.version_on(date(2026, 3, 2))
    assert version is not None
    per_stage: dict[int, float] = {}
    for p in b.parts:
        limit = p.promised or CATALOGUE.part_item(p).versions[-1].promised
        assert limit.unit == version.promised.unit
        per_stage[p.stage] = max(per_stage.get(p.stage, 0), limit.value)
    # a bundle with 前后置 (needs) runs longer than its longest stage: its critical path is the promise
    items = {i.code: i for i in CATALOGUE.items}
    if any(p.needs for p in b.parts):
        assert critical_path(b, items, version) == version.promised.value
    else:
        assert sum(per_stage.values()) == version.promised.value
    assert sorted(per_stage) == list(range(1, len(per_stage) + 1)), "stages numbered from 1 without gaps"


def test_a_bundle_form_asks_for_a_shared_material_once_and_not_for_what_it_produces() -> None:
    lines = CATALOGUE.form(bundle("企业开办"))
    names = [m.name for m in lines]
    assert len(names) == len(set(names))
    assert "营业执照" not in names, "the licence comes from 设立登记 inside the bundle"
    legal_rep = next(m for m in lines if m.name == "法定代表人身份证明")
    assert legal_rep.code == "reg.M03"
    assert legal_rep.parts == ["reg", "seal"]


@pytest.mark.parametrize("department", sorted(CATALOGUE.departments))
def test_every_department_has_a_valid_credit_code(department: str) -> None:
    assert uscc.is_valid(CATALOGUE.departments[department].uscc)


def test_items_name_known_levels_and_departments() -> None:
    for item in CATALOGUE.items:
        assert item.level in LEVELS
        assert item.department in CATALOGUE.departments
    for b in CATALOGUE.bundles:
        assert b.lead_department in CATALOGUE.departments


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        pytest.param(('department = "民政局"', 'department = "月球局"'), "实施主体“月球局”不在", id="department"),
        pytest.param(('item = "11150525000150001"', 'item = "11150525999999999"'), "不在目录中", id="bundle-part"),
        pytest.param(('code = "11150525000118002"', 'code = "11150525000118001"'), "编码重复", id="doubled-code"),
    ],
)
def test_a_catalogue_that_contradicts_itself_is_refused(
    tmp_path: Path, change: tuple[str, str], complaint: str
) -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    assert change[0] in text
    path = tmp_path / "catalogue.toml"
    path.write_text(text.replace(*change, 1), encoding="utf-8")
    with pytest.raises(CatalogueError, match=complaint):
        load_catalogue(path)


def test_a_deferrable_material_must_be_required(tmp_path: Path) -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    old = 'name = "技术负责人职称证书"\n  required = true'
    assert old in text
    path = tmp_path / "catalogue.toml"
    path.write_text(text.replace(old, 'name = "技术负责人职称证书"\n  required = false'), encoding="utf-8")
    with pytest.raises(CatalogueError, match="容缺材料“技术负责人职称证书”必须是必备材料"):
        load_catalogue(path)


GATEWAY = GatewayCatalogue()


CODES = [i.code for i in CATALOGUE.items] + [b.code for b in CATALOGUE.bundles]


@pytest.mark.parametrize("code", CODES)
def test_the_gateway_shows_the_very_form_intake_checks(code: str) -> None:
    """The desk's live checklist and intake's rules read the same file; their forms must never differ."""
    offering = CATALOGUE.offering(code)
    entry = GATEWAY.find(code)
    assert offering is not None
    assert entry is not None
    ours = [msgspec.structs.asdict(m) for m in CATALOGUE.form(offering)]
    theirs = [msgspec.structs.asdict(m) for m in GATEWAY.detail(entry, date(2026, 3, 2)).materials]
    assert ours == theirs


def test_the_gateway_finds_entries_by_keyword_and_shows_the_limit_in_force() -> None:
    assert [s.name for s in GATEWAY.search("天然气", date(2026, 3, 2))] == ["用气报装"]
    assert GATEWAY.search("企业开办", date(2026, 3, 2))[0].kind == "一件事"
    gas = GATEWAY.find("11150525000120002")
    assert gas is not None
    assert GATEWAY.summary(gas, date(2022, 6, 30)).promised_text == "6个工作日"
    assert GATEWAY.summary(gas, date(2022, 7, 1)).promised_text == "5个工作日"
    assert GATEWAY.summary(gas, date(2020, 1, 1)).promised_text == "尚未生效"
