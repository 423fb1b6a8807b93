"""data/evaluation.toml has one model (shared/rating_policy.py): evaluation enforces it, the gateway's pages read it."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.gateway import ratings
from shared.rating_policy import DEFAULT_PATH, RatingPolicy, load_policy
from shared.settings import load_settings


def test_the_gateway_reads_the_rules_evaluation_enforces() -> None:
    provided = ratings.feature(load_settings({})).dependencies["rating_config"]
    pages = provided.dependency(hall=None)  # a read model is provided one level below hall, which it ignores
    assert isinstance(pages, RatingPolicy)
    assert pages == load_policy()
    assert pages.pads["pad-01"] == "clerk-zhang"
    assert pages.indicators_for("评价器") == ["服务效率", "服务水平", "服务态度"]
    assert pages.indicators_for("PC") == ["办事效率", "办事指南准确度", "便捷度", "平台操作性"]
    assert pages.indicators_for("系统默认") == []


def test_a_file_evaluation_refuses_is_refused_by_the_one_loader(tmp_path: Path) -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8").replace('default_level = "满意"', 'default_level = "不满意"')
    bad = tmp_path / "evaluation.toml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="default_level 不能是差评：不满意"):
        load_policy(bad)
