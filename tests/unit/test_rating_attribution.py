"""谁办理谁负责：各环节的评价计入谁（data/evaluation.toml [attribution]）。纯函数测试。"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from services.evaluation.handlers import charges_of
from services.evaluation.messages import Charge
from services.evaluation.ratings import CaseFile, StageRecord
from shared.rating_policy import DEFAULT_PATH, load_policy

POLICY = load_policy()
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
WINDOW, DECIDING = "行政审批和政务服务局", "住建局"


def case(**fields: object) -> CaseFile:
    accepted = CaseFile(
        case_no="C1",
        item_code="11150525000120002",
        item_name="用气报装",
        department=DECIDING,  # the item's first department: what every rating was charged to before
        region_code="150525",
        applicant_name="赵小红",
        applicant_id_number="",
        accepted_by="clerk-zhang",
        accepted_at=T0,
        point="hall",
        window_department=POLICY.attribution.point_departments["hall"],
        deciding_department=DECIDING,
        decided_by="zj-boss",
    )
    return msgspec.structs.replace(accepted, **fields)


def stage(clerk: str) -> StageRecord:
    return StageRecord(opened_at=T0, clerk=clerk, clock_id="c")


def test_the_banner_halls_windows_belong_to_the_administrative_approval_bureau() -> None:
    assert POLICY.attribution.point_departments["hall"] == WINDOW


def test_a_window_stage_is_the_windows_and_the_decision_the_deciding_departments() -> None:
    window = Charge(to="window", department=WINDOW, clerk="clerk-zhang", point="hall")
    assert charges_of(case(), "受理", stage("clerk-zhang"), POLICY) == [window]
    delivered = Charge(to="window", department=WINDOW, clerk="clerk-wang", point="hall")
    assert charges_of(case(), "出件", stage("clerk-wang"), POLICY) == [delivered]
    decision = Charge(to="decision", department=DECIDING, clerk="zj-boss")
    assert charges_of(case(), "办结", stage("clerk-wang"), POLICY) == [decision]
    assert charges_of(case(), "整体", stage("clerk-zhang"), POLICY) == [window, decision]


def test_a_case_known_from_before_attribution_keeps_its_department() -> None:
    old = case(point="", window_department="", deciding_department="", decided_by="")
    (charge,) = charges_of(old, "受理", stage("clerk-zhang"), POLICY)
    assert (charge.department, charge.clerk) == (DECIDING, "clerk-zhang")


def test_a_stage_charged_to_nobody_is_refused_at_start(tmp_path: Path) -> None:
    broken = tmp_path / "evaluation.toml"
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    broken.write_text(text.replace('"办结" = ["decision"]', '"办结" = []'), encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[attribution.stages\] 办结"):
        load_policy(broken)
