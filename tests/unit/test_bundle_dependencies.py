"""一件事的前后置和会签，在路由的纯函数上：子件只在前置事项全部准予后开始办理（带上前置事项的证照），前置事项
不予许可时恰好关闭（直接或间接）依赖它的子件并一次告知，办结和出件各一次（同一事件重复投递不改变任何东西）；
共同实施部门的会签环节与承办、审核并联，全部完成后才进入决定。另：目录对前后置和部门的核查。"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.routing import window
from services.routing.messages import (
    Action,
    ApplicantNotified,
    CaseAccepted,
    CaseCompleted,
    CaseDelivered,
    Child,
    ChildCompleted,
    Limit,
    StepOpened,
    StepsClosed,
)
from services.routing.model import RoutedCase
from services.routing.plan import open_case
from services.routing.progress import finish_track
from services.routing.steps import Licence, Rules, Who, decide
from shared.catalogue import DEFAULT_PATH, CatalogueError, _File, check
from shared.replies import Refusal

T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
RULES = Rules(licence="许可证")  # every child issues a licence: its 决定 准予 gives the number


def _bundle(needs: list[list[int]], stages: list[int] | None = None) -> CaseAccepted:
    children = [
        Child(
            case_no=f"B-{n:02d}",
            item_code=f"I{n:02d}",
            item_name=f"事项{n:02d}",
            department=f"部门{n:02d}",
            promised_limit=Limit(1, "WD"),
            key=f"p{n:02d}",
            needs=[f"p{k:02d}" for k in wanted],
            stage=stages[n] if stages else 1,
        )
        for n, wanted in enumerate(needs)
    ]
    return CaseAccepted(
        case_no="B",
        item_code="YJS",
        item_name="一件事",
        departments=[c.department for c in children],
        children=children,
        applicant_name="申请人",
    )


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[list[int]], list[int], list[bool], list[int]]:
    """A random acyclic dependency graph (a part needs only parts listed before it), the parts' stages (never
    decreasing, so a part never needs a later stage), each part's own outcome (granted or refused at its 决定)
    and the order in which open steps are worked on."""
    n = draw(st.integers(min_value=1, max_value=7))
    needs = [
        sorted(draw(st.sets(st.integers(min_value=0, max_value=i - 1), max_size=3))) if i else [] for i in range(n)
    ]
    stages = [1]
    for _ in range(n - 1):
        stages.append(stages[-1] + draw(st.sampled_from([0, 0, 1])))
    grant = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    order = draw(st.lists(st.integers(min_value=0, max_value=100), min_size=40, max_size=40))
    return needs, stages, grant, order


def _who(seq: int, department: str) -> Who:
    return Who(f"u{seq}-{department}", f"人员{seq}", department)


def _expected(needs: list[list[int]], stages: list[int], grant: list[bool]) -> tuple[list[str], set[int]]:
    """What each part must end as — its own outcome when all it needs was granted and no earlier stage failed,
    else 终止 — and the parts closed 不予办理: those depending, directly or not, on a refused part."""
    ends: list[str] = []
    for n, wanted in enumerate(needs):
        earlier_failed = any(ends[k] != "准予" for k in range(n) if stages[k] < stages[n])
        ok = not earlier_failed and all(ends[k] == "准予" for k in wanted)
        ends.append(("准予" if grant[n] else "不予") if ok else "终止")
    closed: set[int] = set()
    for n, wanted in enumerate(needs):
        if any(ends[k] == "不予" or k in closed for k in wanted):
            closed.add(n)
    return ends, closed


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_children_open_after_their_prerequisites_and_a_refusal_closes_exactly_its_dependents(
    drawn: tuple[list[list[int]], list[int], list[bool], list[int]],
) -> None:
    needs, stages, grant, order = drawn
    case, published = open_case("case-b", _bundle(needs, stages), T0)
    log: list[msgspec.Struct] = list(published)
    at = T0
    turn = 0
    while case.status == "办理中":
        # every child whose first step opens has all its prerequisites granted, and carries their licences
        for event in published:
            if isinstance(event, StepOpened) and event.seq == 1:
                track = next(t for t in case.tracks if t.case_no == event.item_case_no)
                prior = {t.key: t for t in case.tracks}
                assert all(prior[k].result == "准予" for k in track.needs), (track.key, track.needs)
                assert all(t.result == "准予" for t in case.tracks if t.stage < track.stage)
                assert [p.licence_no for p in event.prerequisites] == [prior[k].licence_no for k in track.needs]
                assert all(p.licence_no for p in event.prerequisites)
        waiting = [s for s in case.steps if s.status == "待办"]
        assert waiting, "a bundle still 办理中 must have an open step"
        step = waiting[order[turn % len(order)] % len(waiting)]
        turn += 1
        at += timedelta(minutes=5)
        track = case.track(step.track)
        n = int(track.key[1:])
        refuse = step.seq == 3 and not grant[n]
        licence = Licence(number=f"L-{n:02d}") if step.seq == 3 and not refuse else None
        action: Action = "不予许可" if refuse else "通过"
        published = decide(
            case, step.step_id, action=action, opinion="理由", who=_who(step.seq, step.department), at=at,
            rules=RULES, licence=licence,
        )  # fmt: skip
        # redelivery: the same decision again is refused before anything changes, the same end again is nothing
        before = msgspec.json.encode(case)
        with pytest.raises(Refusal) as again:
            decide(
                case, step.step_id, action=action, opinion="理由", who=_who(step.seq, step.department), at=at,
                rules=RULES, licence=licence,
            )  # fmt: skip
        assert again.value.status == 409
        if track.status == "已办结":
            assert finish_track(case, track, track.result or "准予", track.reason, at) == []
        assert msgspec.json.encode(case) == before
        log += published
    expected, closing = _expected(needs, stages, grant)
    assert [t.result for t in case.tracks] == expected
    closed = {f"B-{n:02d}" for n in closing}
    closures = [e for e in log if isinstance(e, ChildCompleted) and e.closed_by]
    assert sorted(e.child_case_no for e in closures) == sorted(closed)  # each closed once, no other
    for e in closures:  # the reason names a prerequisite that was not granted
        prerequisite = next(t for t in case.tracks if t.case_no == e.closed_by)
        assert prerequisite.result in ("不予", "终止")
        assert prerequisite.item_name in e.reason
    notices = [e for e in log if isinstance(e, ApplicantNotified)]
    for child in closed:  # the applicant is told of each closed child in exactly one notice
        assert sum(child in notice.text for notice in notices) == 1
    refused_roots = [t for t, end in zip(case.tracks, expected, strict=True) if end == "不予"]
    assert len(notices) <= len(refused_roots)
    assert not closed or notices
    assert sum(isinstance(e, CaseCompleted) for e in log) == 1
    assert sum(isinstance(e, ChildCompleted) for e in log) == len(needs)
    assert case.result == ("准予" if all(end == "准予" for end in expected) else "不予")
    # one delivery: the second is refused
    delivered = window.deliver(case, "窗口", "", at)
    assert sum(isinstance(e, CaseDelivered) for e in delivered) == 1
    with pytest.raises(Refusal):
        window.deliver(case, "窗口", "", at)


def _run(
    case: RoutedCase,
    step_id: str,
    action: Action,
    seq: int,
    at: datetime,
    *,
    opinion: str = "同意",
    rules: Rules = RULES,
    licence: Licence | None = None,
) -> list[msgspec.Struct]:
    step = case.step(step_id)
    if step.seq == 3 and action == "通过" and licence is None:
        licence = Licence(number="XK-1")
    who = _who(seq, step.department)
    return decide(case, step_id, action=action, opinion=opinion, who=who, at=at, rules=rules, licence=licence)


def test_enterprise_opening_registration_refused_closes_seal_tax_and_social_security_with_one_notice() -> None:
    needs = [[], [0], [0], [0]]
    case, opened = open_case("c1", _bundle(needs), T0)
    assert [e.item_case_no for e in opened if isinstance(e, StepOpened)] == ["B-00"]  # only 设立登记 starts
    _run(case, "c1-1-1", "通过", 1, T0)
    _run(case, "c1-1-2", "通过", 2, T0)
    events = _run(case, "c1-1-3", "不予许可", 3, T0, opinion="名称与已登记企业重复")
    closed = [e for e in events if isinstance(e, ChildCompleted) and e.closed_by == "B-00"]
    assert [e.child_case_no for e in closed] == ["B-01", "B-02", "B-03"]
    assert all(e.result == "终止" and "不予办理" in e.reason and "事项00" in e.reason for e in closed)
    notices = [e for e in events if isinstance(e, ApplicantNotified)]
    assert len(notices) == 1
    assert notices[0].kind == "不予办理"
    assert notices[0].title == "不予办理告知书"
    assert "名称与已登记企业重复" in notices[0].text
    assert sum(isinstance(e, CaseCompleted) for e in events) == 1
    assert case.result == "不予"
    assert not [s for s in case.steps if s.status == "待办"]


def test_a_granted_prerequisite_passes_its_licence_on_to_every_dependent() -> None:
    case, _ = open_case("c2", _bundle([[], [0], [0]]), T0)
    _run(case, "c2-1-1", "通过", 1, T0)
    _run(case, "c2-1-2", "通过", 2, T0)
    events = _run(case, "c2-1-3", "通过", 3, T0, rules=RULES, licence=Licence(number="91150525MA0000001X"))
    opened = [e for e in events if isinstance(e, StepOpened)]
    assert [e.item_case_no for e in opened] == ["B-01", "B-02"]
    assert all(e.prerequisites[0].licence_no == "91150525MA0000001X" for e in opened)
    assert all(e.prerequisites[0].licence_name == "许可证" and e.prerequisites[0].case_no == "B-00" for e in opened)


# ---------------------------------------------------------------- 会签


def _item(co: list[str], countersign: bool = True) -> CaseAccepted:
    return CaseAccepted(
        case_no="S",
        item_code="I",
        item_name="用水报装",
        departments=["住建局"],
        approving_department="住建局",
        promised_limit=Limit(2, "WD"),
        co_departments=co,
        countersign=countersign,
    )


def test_countersign_steps_run_beside_the_lead_and_join_before_the_decision() -> None:
    case, opened = open_case("s1", _item(["自来水公司", "交通运输局"]), T0)
    steps = [(e.step_name, e.department, e.limit.value) for e in opened if isinstance(e, StepOpened)]
    assert steps == [("承办", "住建局", 1.0), ("会签", "自来水公司", 1.5), ("会签", "交通运输局", 1.5)]
    assert all(e.countersign for e in opened if isinstance(e, StepOpened) and e.step_name == "会签")
    assert [type(e).__name__ for e in _run(case, "s1-1-hq1", "通过", 1, T0)] == ["StepDecided"]
    _run(case, "s1-1-1", "通过", 1, T0)
    assert [type(e).__name__ for e in _run(case, "s1-1-2", "通过", 2, T0)] == ["StepDecided"]  # 交通运输局 pending
    events = _run(case, "s1-1-hq2", "通过", 1, T0)
    assert [(e.step_name, e.department) for e in events if isinstance(e, StepOpened)] == [("决定", "住建局")]
    events = _run(case, "s1-1-3", "通过", 3, T0)
    assert [e.result for e in events if isinstance(e, CaseCompleted)] == ["准予"]


def test_a_co_department_refusing_refuses_the_item_with_its_reason_and_closes_the_open_steps() -> None:
    case, _ = open_case("s2", _item(["自来水公司", "交通运输局"]), T0)
    events = _run(case, "s2-1-hq1", "不予许可", 1, T0, opinion="管网不具备接入条件")
    closed = [e for e in events if isinstance(e, StepsClosed)]
    assert len(closed) == 1
    assert closed[0].step_ids == ["s2-1-1", "s2-1-hq2"]
    done = [e for e in events if isinstance(e, CaseCompleted)]
    assert len(done) == 1
    assert done[0].result == "不予"
    assert done[0].reasons == ["用水报装（住建局）：会签部门自来水公司不同意：管网不具备接入条件"]
    with pytest.raises(Refusal):
        _run(case, "s2-1-1", "通过", 1, T0)


def test_co_departments_without_countersign_get_no_step() -> None:
    _, opened = open_case("s3", _item(["燃气企业"], countersign=False), T0)
    assert [e.step_name for e in opened if isinstance(e, StepOpened)] == ["承办"]


# ---------------------------------------------------------------- the catalogue's check


def _catalogue() -> dict[str, Any]:
    data: dict[str, Any] = msgspec.toml.decode(DEFAULT_PATH.read_bytes())
    return data


def _checked(data: dict[str, Any]) -> None:
    data.pop("projects", None)  # another part of the catalogue, checked by its own loader
    check(msgspec.convert(data, _File))


def _opening(data: dict[str, Any]) -> dict[str, Any]:
    bundles = data["bundles"]
    assert isinstance(bundles, list)
    return next(b for b in bundles if b["basic_code"] == "YJS0001")


def test_the_catalogue_as_shipped_passes_and_enterprise_opening_needs_registration() -> None:
    data = _catalogue()
    _checked(data)
    parts = {p["key"]: p for p in _opening(data)["parts"]}
    assert parts["seal"]["needs"] == parts["tax"]["needs"] == parts["ss"]["needs"] == ["reg"]
    departments = {d["name"] for d in data["departments"]}
    assert {"燃气企业", "供热企业", "自来水公司"} <= departments


def test_check_refuses_a_critical_path_longer_than_the_promise() -> None:
    data = _catalogue()
    parts = _opening(data)["parts"]
    parts[1]["promised"] = {"value": 0.5, "unit": "WD"}  # seal after reg: 0.25 + 0.5 > 0.5
    with pytest.raises(
        CatalogueError, match=r"11150525YJS0001（企业开办）.*关键路径时限 0\.75个工作日超过一件事承诺时限 0\.5个工作日"
    ):
        _checked(data)


def test_check_refuses_a_cycle_in_needs() -> None:
    data = _catalogue()
    _opening(data)["parts"][0]["needs"] = ["seal"]
    with pytest.raises(CatalogueError, match=r"企业开办.*成环：reg → seal → reg"):
        _checked(data)


def test_check_refuses_needs_naming_an_unknown_part() -> None:
    data = _catalogue()
    _opening(data)["parts"][1]["needs"] = ["licence"]
    with pytest.raises(CatalogueError, match=r"企业开办.*子项 seal 的前置事项 needs 含有未知子项“licence”"):
        _checked(data)


def test_check_refuses_an_unknown_co_department() -> None:
    data = _catalogue()
    items = data["items"]
    assert isinstance(items, list)
    gas = next(i for i in items if i["name"] == "用气报装")
    gas["co_departments"] = ["煤气公司"]
    with pytest.raises(
        CatalogueError, match=r"11150525000120002（用气报装）：共同实施部门“煤气公司”不在 \[\[departments\]\] 中"
    ):
        _checked(data)


def test_check_refuses_an_unknown_department() -> None:
    data = _catalogue()
    items = data["items"]
    assert isinstance(items, list)
    items[0]["department"] = "不存在局"
    with pytest.raises(CatalogueError, match=r"实施主体“不存在局”不在 \[\[departments\]\] 中"):
        _checked(data)


def test_check_refuses_needs_naming_a_later_stage() -> None:
    data = _catalogue()
    _opening(data)["parts"][0]["stage"] = 2  # 设立登记 after the others: 刻章 (stage 1) cannot wait for it
    with pytest.raises(CatalogueError, match=r"企业开办.*子项 seal 的前置事项 reg 属于后续阶段"):
        _checked(data)


def test_check_refuses_countersign_without_co_departments() -> None:
    data = _catalogue()
    items = data["items"]
    sealing = next(i for i in items if i["name"] == "查封登记")
    sealing["countersign"] = True
    with pytest.raises(CatalogueError, match=r"查封登记.*会签（countersign）须列明共同实施部门"):
        _checked(data)
