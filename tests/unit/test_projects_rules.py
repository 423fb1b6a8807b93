"""工程建设项目 without I/O: the catalogue's project types (stages adding up to the budget, reuses from earlier
stages only), a stopped clock's working days used (pauses not counted), 项目代码's format, and the stage bundles'
reuse lines."""

from __future__ import annotations

from datetime import datetime

import msgspec
import pytest

from services.intake.projects import code_problem, reuse_lines
from services.timing import clocks
from services.timing.clocks import Pause
from shared.calendar import WorkingCalendar, parse_limit
from shared.catalogue import DEFAULT_PATH, CatalogueError, Limit, ProjectStage, _check_projects, _File, load_catalogue
from shared.localtime import LOCAL

CAL = WorkingCalendar()
CATALOGUE = load_catalogue()


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL)


def test_the_building_type_has_four_stages_of_10_15_15_20_working_days_and_a_budget_of_60() -> None:
    kind = CATALOGUE.project_types["FJ"]
    assert kind.budget == Limit(60, "WD")
    limits = []
    for stage in kind.stages:
        bundle = CATALOGUE.bundle(stage.bundle)
        assert bundle is not None
        assert {p.stage for p in bundle.parts} == {1}  # each stage's items run in parallel
        limits.append(max(bundle.versions, key=lambda v: v.effective).promised.value)
    assert limits == [10, 15, 15, 20]
    assert [CATALOGUE.project_stage("FJ", s.bundle) for s in kind.stages] == [1, 2, 3, 4]
    assert CATALOGUE.project_stage("GZ", kind.stages[0].bundle) == 0  # 既有建筑改造 skips 立项用地规划许可
    assert CATALOGUE.is_project_stage(kind.stages[3].bundle)
    assert not CATALOGUE.is_project_stage("11150525YJS0004")  # the earlier one-case bundle


def _file() -> _File:
    return msgspec.toml.decode(DEFAULT_PATH.read_bytes(), type=_File)


def _with_type(data: _File, **changes: object) -> _File:
    kind = msgspec.structs.replace(data.projects[0], **changes)
    return msgspec.structs.replace(data, projects=[kind, *data.projects[1:]])


def test_the_check_refuses_stages_that_do_not_add_up_to_the_budget() -> None:
    data = _with_type(_file(), budget=Limit(55, "WD"))
    with pytest.raises(CatalogueError, match="各阶段承诺时限之和 60个工作日与审批时限 55个工作日不符"):
        _check_projects(data)


def test_the_check_refuses_a_licence_reused_from_no_earlier_stage_and_an_unknown_stage() -> None:
    data = _file()
    stages = list(data.projects[0].stages)
    first = ProjectStage(bundle=stages[0].bundle, reuses=["建筑工程施工许可证"])  # issued only at stage 3
    with pytest.raises(CatalogueError, match="第1阶段复用的证照 建筑工程施工许可证 不是此前阶段核发的证照"):
        _check_projects(_with_type(data, stages=[first, *stages[1:]]))
    with pytest.raises(CatalogueError, match="第2阶段的一件事 11150525YJS9999 不在目录中"):
        _check_projects(_with_type(data, stages=[stages[0], ProjectStage(bundle="11150525YJS9999")]))


def test_a_stopped_clock_says_the_working_days_it_used_without_its_pauses() -> None:
    clock = clocks.start_clock(
        CAL,
        clock_id="k",
        purpose="办件",
        case_id="c",
        case_no="n",
        started_at=local("2026-03-02 10:00"),
        promised=parse_limit("10WD"),
    )
    # 专家评审 from Wednesday 09:00 to Thursday 17:30: two working days that do not count.
    clocks.pause(clock, Pause(pause_id="p", reason="专家评审", start=local("2026-03-04 09:00")))
    clocks.resume(clock, "p", local("2026-03-05 17:30"), "e1", CAL)
    clocks.stop(clock, local("2026-03-09 18:00"), "e2", CAL)
    assert clocks.used(clock, CAL) == 3.0  # 03-03, 03-06 and 03-09 of the five working days counted from 03-03


@pytest.mark.parametrize(
    ("code", "fine"),
    [
        ("2026-150525-47-03-000123", True),
        ("2026-150525-47-01-000123", True),
        ("2026-150525-47-04-000123", False),  # 01 审批, 02 核准, 03 备案 only
        ("2026-15052-47-03-000123", False),
        ("2026150525470300123", False),
    ],
)
def test_a_project_code_has_the_platforms_format(code: str, fine: bool) -> None:
    assert (code_problem(code) is None) is fine


def test_a_stage_asks_for_the_licences_it_reuses_as_required_reusable_lines() -> None:
    stage4 = CATALOGUE.bundle(CATALOGUE.project_types["FJ"].stages[3].bundle)
    assert stage4 is not None
    lines = reuse_lines(CATALOGUE, stage4)
    assert [(m.code, m.name) for m in lines] == [("R01", "建设工程规划许可证"), ("R02", "建筑工程施工许可证")]
    assert all(m.required and m.reusable for m in lines)
    item = CATALOGUE.get("11150525000118001")
    assert item is not None
    assert reuse_lines(CATALOGUE, item) == []
