"""The catalogue at the county's scale (issue 14, item 4): 就近办 items of the towns and villages with the points and
people that decide them, at least ten 一件事 and ten 跨省通办 items, each bundle's stages adding up to its promise,
and nothing that names a department the catalogue does not know.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from services.gateway.catalogue.model import Catalogue as GatewayCatalogue
from shared.catalogue import Bundle, Item, Part, load_catalogue
from shared.points import load_points

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = load_catalogue()
POINTS = load_points()
with (ROOT / "data" / "users.toml").open("rb") as file:
    USERS = tomllib.load(file)["users"]
DECIDERS = [u for u in USERS if u["role"] in ("staff", "supervisor")]
ITEMS = CATALOGUE.items
# 一件事 proper: a 工程建设 project's stage bundles (…YJS0004S1) are parts of one, not bundles of their own.
BUNDLES = [b for b in CATALOGUE.bundles if re.fullmatch(r"\d{8}YJS\d{4}", b.code)]
NEARBY = [i for i in ITEMS if i.level in (5, 6)]
ALL_BUNDLES = CATALOGUE.bundles


def test_every_item_and_bundle_loads_with_a_form_and_a_limit_in_force() -> None:
    gateway = GatewayCatalogue()
    entries: list[Item | Bundle] = [*ITEMS, *ALL_BUNDLES]
    for entry in entries:
        assert CATALOGUE.offering(entry.code) is entry
        assert CATALOGUE.form(entry), f"{entry.name}: no materials"
        assert gateway.find(entry.code) is not None, entry.code
        assert entry.version_on(entry.versions[-1].effective) is not None


def test_names_are_unique_so_a_clerk_can_tell_entries_apart() -> None:
    doubled = [n for n, c in Counter(i.name for i in ITEMS).items() if c > 1]
    doubled += [n for n, c in Counter(b.name for b in ALL_BUNDLES).items() if c > 1]
    assert doubled == []


def test_towns_and_villages_have_items_of_their_own() -> None:
    levels = Counter(i.level for i in NEARBY)
    assert len(NEARBY) >= 6
    assert levels[5] >= 3, levels
    assert levels[6] >= 2, levels


@pytest.mark.parametrize("item", NEARBY, ids=[i.name for i in NEARBY])
def test_a_town_or_village_item_is_decided_at_a_point_of_its_level(item: Item) -> None:
    """承办, 审核 and 决定 by three different people of its implementing subject (two staff and a supervisor),
    all at points of the item's own level: a case accepted at a lower point is routed up to them."""
    people = [u for u in DECIDERS if u["department"] == item.department]
    roles = Counter(u["role"] for u in people)
    assert roles["staff"] >= 2, (item.department, roles)
    assert roles["supervisor"] >= 1, (item.department, roles)
    assert {POINTS[u["point"]].level for u in people} == {item.level}
    assert any(p.level == item.level for p in POINTS.values())


def test_banner_items_are_decided_at_the_banner_hall() -> None:
    banner = {i.department for i in ITEMS if i.level == 4}
    for user in DECIDERS:
        if user["department"] in banner:
            assert POINTS[user["point"]].level == 4, user["id"]


def test_at_least_ten_bundles_and_ten_cross_province_items() -> None:
    assert len(BUNDLES) >= 10, [b.name for b in BUNDLES]
    cross = [i.name for i in ITEMS if i.scope == "跨省"]
    assert len(cross) >= 10, cross
    assert {"结婚登记", "工业产品生产许可证", "异地就医登记备案", "企业职工基本养老保险关系转移接续"} <= set(cross)


def critical_path(bundle: Bundle, effective: date) -> tuple[float, list[int]]:
    """The longest chain of part limits and the stages: the parts of one stage run in parallel, a stage starts
    when the one before has ended, and a part that ``needs`` another (前后置) starts when that one has ended."""
    parts = {p.key: p for p in bundle.parts}
    ends: dict[str, float] = {}

    def limit(part: Part) -> float:
        item = CATALOGUE.part_item(part)
        return (part.promised or (item.version_on(effective) or item.versions[0]).promised).value

    def end(key: str) -> float:
        if key not in ends:
            part = parts[key]
            before = [end(n) for n in getattr(part, "needs", [])]  # ``needs``: issue 14 item 2
            before += [end(p.key) for p in bundle.parts if p.stage < part.stage]
            ends[key] = max(before, default=0.0) + limit(part)
        return ends[key]

    return max(end(k) for k in parts), sorted({p.stage for p in bundle.parts})


@pytest.mark.parametrize("bundle", ALL_BUNDLES, ids=[b.name for b in ALL_BUNDLES])
def test_every_version_of_a_bundle_promises_exactly_its_critical_path(bundle: Bundle) -> None:
    for version in bundle.versions:
        for part in bundle.parts:
            limit = part.promised or CATALOGUE.part_item(part).versions[-1].promised
            assert limit.value == 0 or limit.unit == version.promised.unit, (part.key, limit)
        longest, stages = critical_path(bundle, version.effective)
        assert stages == list(range(1, len(stages) + 1)), "stages numbered from 1 without gaps"
        assert longest == pytest.approx(version.promised.value), (version.effective, longest)
        assert version.promised.value <= version.statutory.value


def test_a_staged_bundles_promise_is_the_sum_of_its_stages() -> None:
    """Without 前后置, the critical path of a staged bundle is its stages one after another."""
    relief = next(b for b in BUNDLES if b.name == "困难群众救助")
    assert [CATALOGUE.part_item(p).level for p in relief.parts] == [5, 4, 4]
    assert critical_path(relief, relief.versions[-1].effective)[0] == 10 + 10 + 5 == relief.versions[-1].promised.value
    utilities = next(b for b in BUNDLES if b.name == "水电气暖联合报装")
    assert critical_path(utilities, utilities.versions[-1].effective)[0] == 15  # in parallel: the longest, 用电


def test_every_department_named_anywhere_is_in_the_catalogue() -> None:
    known = set(CATALOGUE.departments)
    named = {i.department for i in ITEMS} | {d for i in ITEMS for d in i.co_departments}
    named |= {b.lead_department for b in ALL_BUNDLES}
    named |= {CATALOGUE.part_item(p).department for b in ALL_BUNDLES for p in b.parts}
    named |= {u["department"] for u in DECIDERS}
    assert named - known == set()


def test_every_implementing_department_has_people_to_decide() -> None:
    for department in sorted({i.department for i in ITEMS}):
        roles = Counter(u["role"] for u in DECIDERS if u["department"] == department)
        assert roles["staff"] >= 2, (department, roles)
        assert roles["supervisor"] >= 1, (department, roles)


def test_every_user_sits_at_a_known_point() -> None:
    assert {u["point"] for u in USERS} <= set(POINTS)


def test_a_bundles_produced_materials_are_not_on_its_form() -> None:
    for bundle in BUNDLES:
        codes = {m.code for m in CATALOGUE.form(bundle)}
        for part in bundle.parts:
            assert not {f"{part.key}.{code}" for code in part.produced_within} & codes, (bundle.name, part.key)
