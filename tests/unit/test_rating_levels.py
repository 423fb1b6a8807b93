"""五级评价的内部枚举与两套相互冲突的代码表（GB/T 39046：1 为最好；评价接口：1 为最差）。"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.levels import CODE_TABLES, Level, UnknownLevel, from_code, parse, to_code


def test_the_two_code_tables_read_the_same_number_the_other_way_round() -> None:
    assert from_code(1, "GB/T 39046") is Level.VERY_SATISFIED
    assert from_code(1, "评价接口") is Level.VERY_DISSATISFIED
    assert from_code(5, "GB/T 39046") is Level.VERY_DISSATISFIED
    assert from_code(5, "评价接口") is Level.VERY_SATISFIED
    assert from_code(3, "GB/T 39046") is from_code(3, "评价接口") is Level.BASICALLY_SATISFIED
    assert to_code(Level.SATISFIED, "GB/T 39046") == 2
    assert to_code(Level.SATISFIED, "评价接口") == 4


@given(st.sampled_from(list(Level)), st.sampled_from(CODE_TABLES))
def test_a_level_survives_a_round_trip_through_either_table(level: Level, table: str) -> None:
    assert from_code(to_code(level, table), table) is level  # type: ignore[arg-type]


@given(st.sampled_from(list(Level)))
def test_translating_between_the_tables_mirrors_the_number(level: Level) -> None:
    assert to_code(level, "GB/T 39046") + to_code(level, "评价接口") == 6


def test_only_the_last_two_levels_are_a_bad_review() -> None:
    assert [level.value for level in Level if level.bad] == ["不满意", "非常不满意"]
    assert all(level.good for level in (Level.VERY_SATISFIED, Level.SATISFIED, Level.BASICALLY_SATISFIED))


@pytest.mark.parametrize("code", [0, 6, -1])
def test_a_number_outside_one_to_five_is_refused_with_the_table_named(code: int) -> None:
    with pytest.raises(UnknownLevel, match="评价接口 评价代码"):
        from_code(code, "评价接口")


def test_an_unknown_name_is_refused_with_the_five_allowed() -> None:
    assert parse("满意") is Level.SATISFIED
    with pytest.raises(UnknownLevel, match="非常满意、满意、基本满意、不满意、非常不满意"):
        parse("还行")
