"""后台分类审批的环节规则：承办 → 审核 → 决定 按序办理，按部门办理、不可重复办理，退回补正、特别程序、延长、
改派、督办，办结后统一窗口出件。纯函数测试，不连 Kafka/Redis。"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.routing import external, window
from services.routing.handlers import rules_of
from services.routing.messages import (
    Action,
    ApplicantNotified,
    CaseAccepted,
    CaseCompleted,
    CaseDelivered,
    CaseReturned,
    Child,
    ChildCompleted,
    ClockRequested,
    ClockWithdrawn,
    ExtensionApproved,
    ExtensionRejected,
    ExtensionRequested,
    HandedOver,
    Limit,
    Material,
    SendHandover,
    SpecialProcedureEnded,
    SpecialProcedureStarted,
    StepClaimed,
    StepDecided,
    StepEscalated,
    StepOpened,
    StepReassigned,
    StepResumed,
)
from services.routing.model import RoutedCase
from services.routing.plan import open_case, step_limits
from services.routing.steps import (
    ExtensionCap,
    Rules,
    Who,
    claim,
    decide,
    decide_extension,
    end_special,
    escalate,
    lapse,
    reassign,
    request_extension,
    resume,
    start_special,
    supplement_returned,
)
from shared.catalogue import DEFAULT_CAP, DEFAULT_PATH, CatalogueError, _File, check, load_catalogue
from shared.catalogue import ExtensionCap as CatalogueCap
from shared.catalogue import Limit as CatalogueLimit
from shared.replies import Refusal

GAS, QUALIFICATION, SEAL = "11150525000120002", "11150525000120006", "11150525000118001"
AT = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 09:30 in the hall
LATER = AT + timedelta(hours=3)  # 12:30 in the hall
HOUSING, LAND, TAX, POLICE = "住建局", "自然资源局", "税务局", "公安局"
CASE_ID, CASE_NO = "c42", "15052520260302000042"


def staff(department: str, name: str = "", role: str = "staff") -> Who:
    person = name or f"{department}经办人"
    return Who(id=person, name=person, department=department, role=role)


def single(*departments: str, **fields: object) -> CaseAccepted:
    base: dict[str, object] = {
        "case_no": CASE_NO,
        "item_code": "11150525000120002",
        "item_name": "用气报装",
        "departments": list(departments),
        "promised_limit": Limit(5, "WD"),
    }
    return msgspec.convert({**base, **fields}, CaseAccepted, from_attributes=True)


def bundle(*children: tuple[str, int], **fields: object) -> CaseAccepted:
    """A bundle (一件事) with one child per (department, stage)."""
    kids = [
        Child(
            case_no=f"{CASE_NO}-{n:02d}",
            item_code=f"ITEM{n}",
            item_name=f"{department}事项{n}",
            department=department,
            stage=stage,
            promised_limit=Limit(2, "WD"),
        )
        for n, (department, stage) in enumerate(children, start=1)
    ]
    base: dict[str, object] = {
        "case_no": CASE_NO,
        "item_code": "B0001",
        "item_name": "企业开办",
        "departments": sorted({d for d, _ in children}),
        "children": kids,
    }
    return msgspec.convert({**base, **fields}, CaseAccepted, from_attributes=True)


def routed(event: CaseAccepted) -> tuple[RoutedCase, list[msgspec.Struct]]:
    return open_case(CASE_ID, event, AT)


def open_steps(case: RoutedCase) -> list[str]:
    return [s.step_id for s in case.steps if s.status == "待办"]


def act(case: RoutedCase, step_id: str, action: Action = "通过", **kw: object) -> list[msgspec.Struct]:
    step = case.step(step_id)
    # 岗位分离: by default a different person of the department does each of 承办, 审核 and 决定.
    who = kw.pop("who", None) or staff(step.department, f"{step.department}{step.name}人员")
    opinion = str(kw.pop("opinion", f"{step.department}意见"))
    materials = kw.pop("materials", ["补充材料"] if action == "退回" else [])
    assert isinstance(who, Who)
    assert isinstance(materials, list)
    return decide(case, step_id, action=action, opinion=opinion, who=who, at=LATER, materials=materials)


def through(case: RoutedCase, step_id: str) -> list[msgspec.Struct]:
    """Pass a step and the rest of its track; returns everything published on the way."""
    published: list[msgspec.Struct] = []
    track = case.step(step_id).track
    while True:
        current = next(s for s in case.steps if s.track == track and s.status == "待办")
        published += act(case, current.step_id)
        if current.seq == 3:
            return published


def kinds(events: list[msgspec.Struct]) -> list[str]:
    return [type(e).__name__ for e in events]


def refused(case: RoutedCase, command: Callable[[], object]) -> Refusal:
    """Runs a command that must be refused, and checks the case did not change."""
    before = msgspec.json.encode(case)
    with pytest.raises(Refusal) as refusal:
        command()
    assert msgspec.json.encode(case) == before
    return refusal.value


# ---------------------------------------------------------------- 分办: tracks, steps and their limits


def test_a_single_item_starts_with_its_departments_first_step() -> None:
    case, published = routed(single(LAND))
    assert kinds(published) == ["StepOpened"]
    opened = published[0]
    assert isinstance(opened, StepOpened)
    assert (opened.step_name, opened.seq, opened.department, opened.stage) == ("承办", 1, LAND, 1)
    assert (opened.case_no, opened.item_case_no, opened.item_name) == (CASE_NO, CASE_NO, "用气报装")
    assert opened.limit == Limit(2.5, "WD")
    assert opened.step_id == f"{CASE_ID}-1-1"
    assert (case.status, case.result, case.bundle) == ("办理中", None, False)


def test_the_three_steps_run_in_sequence_and_the_last_completes_the_case() -> None:
    case, _ = routed(single(LAND))
    first = act(case, f"{CASE_ID}-1-1")
    assert kinds(first) == ["StepDecided", "StepOpened"]
    assert isinstance(first[1], StepOpened)
    assert (first[1].step_name, first[1].limit) == ("审核", Limit(1.25, "WD"))
    second = act(case, f"{CASE_ID}-1-2")
    assert isinstance(second[1], StepOpened)
    assert (second[1].step_name, second[1].limit) == ("决定", Limit(1.25, "WD"))
    last = act(case, f"{CASE_ID}-1-3")
    assert kinds(last) == ["StepDecided", "CaseCompleted"]
    assert isinstance(last[1], CaseCompleted)
    assert (last[1].result, last[1].reasons) == ("准予", [])
    assert (case.status, case.result) == ("已办结", "准予")
    assert [s.name for s in case.steps] == ["承办", "审核", "决定"]


def test_a_half_day_limit_is_split_in_fractions_of_the_same_unit() -> None:
    assert step_limits(Limit(0.5, "WD")) == (Limit(0.25, "WD"), Limit(0.125, "WD"), Limit(0.125, "WD"))
    assert step_limits(Limit(0, "WD")) == (Limit(0, "WD"), Limit(0, "WD"), Limit(0, "WD"))
    assert step_limits(Limit(8, "WH"))[0] == Limit(4, "WH")


@given(st.decimals(min_value=0, max_value=400, places=3), st.sampled_from(["WD", "WH", "ND", "NH"]))
def test_the_step_limits_add_up_to_the_promised_limit(value: object, unit: str) -> None:
    promised = msgspec.convert({"value": float(str(value)), "unit": unit}, Limit)
    limits = step_limits(promised)
    assert {limit.unit for limit in limits} == {unit}
    assert all(limit.value >= 0 for limit in limits)
    assert round(sum(limit.value for limit in limits), 3) == round(promised.value, 3)
    assert limits[0].value >= limits[1].value  # 承办 gets the largest share


def test_a_single_item_of_several_departments_runs_one_track_each_in_parallel() -> None:
    case, published = routed(single(HOUSING, LAND, TAX))
    assert [(e.department, e.step_name) for e in published if isinstance(e, StepOpened)] == [
        (HOUSING, "承办"),
        (LAND, "承办"),
        (TAX, "承办"),
    ]
    assert not [e for e in through(case, f"{CASE_ID}-3-1") if isinstance(e, CaseCompleted)]
    assert not [e for e in through(case, f"{CASE_ID}-1-1") if isinstance(e, CaseCompleted)]
    last = through(case, f"{CASE_ID}-2-1")
    assert kinds(last)[-1] == "CaseCompleted"
    assert not [e for e in last if isinstance(e, ChildCompleted)]  # a single item has no children


def test_a_town_point_routes_the_case_up_to_the_banner_department() -> None:
    event = single("大沁他拉镇便民服务中心", point="town-dqtl", point_level=5, approving_department=LAND)
    case, published = routed(event)
    assert isinstance(published[0], StepOpened)
    assert (published[0].department, published[0].point) == (LAND, "town-dqtl")
    assert case.point == "town-dqtl"


def test_a_banner_point_keeps_the_items_departments() -> None:
    _, published = routed(single(HOUSING, point="hall", point_level=4, approving_department=LAND))
    assert isinstance(published[0], StepOpened)
    assert (published[0].department, published[0].point) == (HOUSING, "")


def test_a_bundle_opens_every_child_at_once_each_with_its_own_case_number() -> None:
    case, published = routed(bundle((HOUSING, 1), (TAX, 1), (POLICE, 1)))
    opened = [e for e in published if isinstance(e, StepOpened)]
    assert [(e.department, e.item_case_no, e.limit) for e in opened] == [
        (HOUSING, f"{CASE_NO}-01", Limit(1, "WD")),
        (TAX, f"{CASE_NO}-02", Limit(1, "WD")),
        (POLICE, f"{CASE_NO}-03", Limit(1, "WD")),
    ]
    assert {e.case_no for e in opened} == {CASE_NO}  # one aggregate, one key: the parent's
    assert case.bundle


def test_each_child_completes_then_the_parent_once() -> None:
    case, _ = routed(bundle((HOUSING, 1), (TAX, 1)))
    first = through(case, f"{CASE_ID}-2-1")
    assert kinds(first)[-1] == "ChildCompleted"
    done = first[-1]
    assert isinstance(done, ChildCompleted)
    assert (done.child_case_no, done.result, done.department) == (f"{CASE_NO}-02", "准予", TAX)
    last = through(case, f"{CASE_ID}-1-1")
    assert kinds(last)[-2:] == ["ChildCompleted", "CaseCompleted"]


def test_a_refused_child_makes_the_bundle_refused_with_its_reasons() -> None:
    case, _ = routed(bundle((HOUSING, 1), (TAX, 1)))
    refusal = act(case, f"{CASE_ID}-1-1", "不予许可", opinion="燃气管线不具备条件")
    assert kinds(refusal) == ["StepDecided", "ChildCompleted"]
    assert case.status == "办理中"  # the other child goes on (并联办理)
    last = through(case, f"{CASE_ID}-2-1")
    completed = last[-1]
    assert isinstance(completed, CaseCompleted)
    assert completed.result == "不予"
    assert completed.reasons == [f"{HOUSING}事项1（{HOUSING}）：燃气管线不具备条件"]


def test_engineering_stages_run_in_order_each_with_parallel_departments() -> None:
    case, published = routed(bundle((LAND, 1), (HOUSING, 2), (TAX, 2), (POLICE, 3), (HOUSING, 4)))
    assert [e.department for e in published if isinstance(e, StepOpened)] == [LAND]
    stage2 = through(case, f"{CASE_ID}-1-1")
    assert [(e.department, e.stage) for e in stage2 if isinstance(e, StepOpened) and e.seq == 1] == [
        (HOUSING, 2),
        (TAX, 2),
    ]
    assert not [e for e in through(case, f"{CASE_ID}-2-1") if isinstance(e, StepOpened) and e.stage == 3]
    stage3 = through(case, f"{CASE_ID}-3-1")
    assert [e.stage for e in stage3 if isinstance(e, StepOpened) and e.seq == 1] == [3]
    stage4 = through(case, f"{CASE_ID}-4-1")
    assert [e.stage for e in stage4 if isinstance(e, StepOpened) and e.seq == 1] == [4]
    assert kinds(through(case, f"{CASE_ID}-5-1"))[-2:] == ["ChildCompleted", "CaseCompleted"]
    assert case.result == "准予"


def test_a_refusal_in_an_early_stage_ends_the_later_stages_unhandled() -> None:
    case, _ = routed(bundle((LAND, 1), (HOUSING, 2), (TAX, 3)))
    ended = act(case, f"{CASE_ID}-1-1", "不予许可", opinion="不符合国土空间规划")
    assert kinds(ended) == ["StepDecided", "ChildCompleted", "ChildCompleted", "ChildCompleted", "CaseCompleted"]
    results = [(e.child_case_no, e.result) for e in ended if isinstance(e, ChildCompleted)]
    assert results == [(f"{CASE_NO}-01", "不予"), (f"{CASE_NO}-02", "终止"), (f"{CASE_NO}-03", "终止")]
    assert len(case.steps) == 1  # nothing of a later stage was ever opened


# ---------------------------------------------------------------- 办理 (decide)


def test_deciding_records_who_what_and_when() -> None:
    case, _ = routed(single(LAND))
    published = act(case, f"{CASE_ID}-1-1", who=staff(LAND, "李强"), opinion="同意")
    decided = published[0]
    assert isinstance(decided, StepDecided)
    assert (decided.action, decided.opinion, decided.handler_name, decided.decided_at) == (
        "通过",
        "同意",
        "李强",
        LATER,
    )
    step = case.steps[0]
    assert (step.status, step.action, step.opinion, step.handler, step.ended_at) == (
        "已办",
        "通过",
        "同意",
        "李强",
        LATER,
    )


def test_deciding_a_decided_step_is_a_conflict_in_the_halls_time() -> None:
    case, _ = routed(single(LAND))
    act(case, f"{CASE_ID}-1-1")
    refusal = refused(case, lambda: act(case, f"{CASE_ID}-1-1", "不予许可", opinion="x"))
    assert refusal.status == 409
    assert "不能重复办理" in refusal.reason
    assert "2026-03-02 12:30" in refusal.reason  # 04:30 UTC is 12:30 in the hall


def test_another_department_may_not_decide_a_step_even_a_decided_one() -> None:
    case, _ = routed(single(HOUSING, LAND))
    refusal = refused(case, lambda: act(case, f"{CASE_ID}-1-1", who=staff(TAX)))
    assert (refusal.status, HOUSING in refusal.reason, TAX in refusal.reason) == (403, True, True)
    act(case, f"{CASE_ID}-1-1")
    assert refused(case, lambda: act(case, f"{CASE_ID}-1-1", who=staff(LAND))).status == 403


def test_an_unknown_step_is_not_found() -> None:
    case, _ = routed(single(LAND))
    refusal = refused(case, lambda: decide(case, "c42-9-9", action="通过", opinion="", who=staff(LAND), at=LATER))
    assert refusal.status == 404
    assert "c42-9-9" in refusal.reason


def test_a_refusal_needs_its_reasons_and_a_return_its_materials() -> None:
    case, _ = routed(single(LAND))
    no_reason = refused(case, lambda: act(case, f"{CASE_ID}-1-1", "不予许可", opinion="  "))
    assert (no_reason.status, no_reason.reason) == (422, "不予许可须说明理由")
    no_list = refused(case, lambda: act(case, f"{CASE_ID}-1-1", "退回", materials=[" "]))
    assert (no_list.status, no_list.reason) == (422, "退回补正须列明需要补正的材料")


def test_a_completed_case_refuses_further_decisions() -> None:
    case, _ = routed(single(LAND))
    through(case, f"{CASE_ID}-1-1")
    window.deliver(case, "窗口", "", LATER)
    assert refused(case, lambda: act(case, f"{CASE_ID}-1-3")).status == 409


# ---------------------------------------------------------------- 退回补正 and resume


def test_a_returned_step_waits_for_the_supplement_then_goes_on() -> None:
    case, _ = routed(single(LAND))
    returned = act(case, f"{CASE_ID}-1-1", "退回", materials=["不动产权证书复印件"], opinion="复印件不清晰")
    assert kinds(returned) == ["StepDecided", "ClockRequested"]  # the return's own limit, on timing's clock
    assert isinstance(returned[0], StepDecided)
    assert (returned[0].action, returned[0].materials) == ("退回", ["不动产权证书复印件"])
    assert isinstance(returned[1], ClockRequested)
    assert (returned[1].purpose, returned[1].limit) == ("退回补正", Limit(15, "WD"))
    step = case.steps[0]
    assert (step.status, step.waiting) == ("待办", "补正")
    blocked = refused(case, lambda: act(case, f"{CASE_ID}-1-1"))
    assert (blocked.status, "补正" in blocked.reason) == (409, True)
    resumed = resume(case, f"{CASE_ID}-1-1", staff(LAND), "", LATER)
    assert isinstance(resumed[0], StepResumed)
    assert "补正材料已收到" in resumed[0].reason
    assert isinstance(resumed[1], ClockWithdrawn)
    assert resumed[1].clock_id == returned[1].clock_id
    assert kinds(act(case, f"{CASE_ID}-1-1")) == ["StepDecided", "StepOpened"]


def test_resuming_a_step_that_was_not_returned_is_a_conflict() -> None:
    case, _ = routed(single(LAND))
    refusal = refused(case, lambda: resume(case, f"{CASE_ID}-1-1", staff(LAND), "", LATER))
    assert (refusal.status, refusal.reason) == (409, "该环节没有退回补正，无需恢复办理")


def test_the_applicants_supplement_resumes_every_returned_step() -> None:
    case, _ = routed(bundle((HOUSING, 1), (TAX, 1)))
    act(case, f"{CASE_ID}-1-1", "退回")
    act(case, f"{CASE_ID}-2-1", "退回")
    published = window.supplemented(case, ["M03"], complete=False, at=LATER)
    assert [(type(e).__name__, getattr(e, "step_id", "")) for e in published] == [
        ("StepResumed", f"{CASE_ID}-1-1"),
        ("ClockWithdrawn", ""),
        ("StepResumed", f"{CASE_ID}-2-1"),
        ("ClockWithdrawn", ""),
    ]
    assert window.supplemented(case, ["M03"], complete=False, at=LATER) == []


def test_the_applicant_brings_every_returned_material_at_once() -> None:
    case, _ = routed(bundle((HOUSING, 1), (TAX, 1)))
    act(case, f"{CASE_ID}-1-1", "退回", materials=["M03"])
    act(case, f"{CASE_ID}-2-1", "退回", materials=["M03", "M04"])
    supplement = supplement_returned
    stranger = refused(case, lambda: supplement(case, ["M09"], channel="自助终端", at=LATER))
    assert (stranger.status, stranger.reason) == (422, "这些材料不在退回补正清单中：M09（需补正：M03、M04）")
    missing = refused(case, lambda: supplement(case, ["M03"], channel="自助终端", at=LATER))
    assert (missing.status, missing.reason) == (422, "退回补正的材料须一次补齐，仍缺：M04（需补正：M03、M04）")
    published = supplement(case, ["M04", "M03"], channel="自助终端", at=LATER)
    resumed = [e for e in published if isinstance(e, StepResumed)]
    assert [(e.step_id, e.supplemented, e.reason) for e in resumed] == [
        (f"{CASE_ID}-{n}-1", ["M04", "M03"], "申请人补正材料（自助终端）：M04、M03") for n in (1, 2)
    ]
    assert kinds(published).count("ClockWithdrawn") == 2
    nothing = refused(case, lambda: supplement(case, ["M03"], channel="窗口", at=LATER))
    assert (nothing.status, nothing.reason) == (409, f"办件 {CASE_NO} 没有退回补正的材料")


def test_a_return_past_its_limit_is_a_returned_case_with_a_notice() -> None:
    case, _ = routed(single(LAND))
    requested = act(case, f"{CASE_ID}-1-1", "退回", materials=["不动产权证书复印件"])[1]
    assert isinstance(requested, ClockRequested)
    early = lapse(case, requested.clock_id, purpose="退回补正", level="预警", deadline=LATER, at=LATER)
    other = lapse(case, "another-clock", purpose="退回补正", level="逾期", deadline=LATER, at=LATER)
    assert (early, other, case.status) == ([], [], "办理中")
    ended = lapse(case, requested.clock_id, purpose="退回补正", level="逾期", deadline=LATER, at=LATER)
    assert kinds(ended) == ["CaseReturned", "ApplicantNotified"]
    returned, notice = ended
    assert isinstance(returned, CaseReturned)
    assert isinstance(notice, ApplicantNotified)
    assert (returned.cause, returned.materials, returned.step_ids) == (
        "退回补正",
        ["不动产权证书复印件"],
        [f"{CASE_ID}-1-1"],
    )
    assert (notice.kind, notice.title, notice.notice_no) == ("退件", "退件通知书", returned.notice_no)
    assert "本件作退件处理" in notice.text
    assert (case.status, case.steps[0].status) == ("已退件", "已办")
    late = refused(case, lambda: supplement_returned(case, ["不动产权证书复印件"], channel="窗口", at=LATER))
    assert late.status == 409
    assert late.reason.endswith(
        "退件（自然资源局承办环节退回补正后，申请人逾期未补正（期限15个工作日）），不能再补正材料；请携带全部材料重新申报"
    )
    assert lapse(case, requested.clock_id, purpose="退回补正", level="逾期", deadline=LATER, at=LATER) == []


def test_a_suspension_past_its_further_period_is_a_returned_case() -> None:
    case, _ = routed(single(LAND, owed_materials=[Material("M03", "技术负责人职称证书")]))
    assert (
        lapse(case, "c42:容缺中止", purpose="容缺中止", level="逾期", deadline=LATER, at=LATER) == []
    )  # not suspended
    window.suspended(case, "容缺材料逾期未补齐")
    ended = lapse(case, "c42:容缺中止", purpose="容缺中止", level="逾期", deadline=LATER, at=LATER)
    returned = ended[0]
    assert isinstance(returned, CaseReturned)
    assert (returned.cause, returned.materials) == ("容缺中止", ["技术负责人职称证书"])
    assert case.status == "已退件"


# ---------------------------------------------------------------- 认领 and 改派


def test_a_claimed_step_is_decided_only_by_its_claimant() -> None:
    case, _ = routed(single(LAND))
    claimed = claim(case, f"{CASE_ID}-1-1", staff(LAND, "李强"), LATER)
    assert isinstance(claimed[0], StepClaimed)
    assert claimed[0].assignee_name == "李强"
    again = refused(case, lambda: claim(case, f"{CASE_ID}-1-1", staff(LAND, "孙伟"), LATER))
    assert (again.status, "李强" in again.reason) == (409, True)
    assert refused(case, lambda: claim(case, f"{CASE_ID}-1-1", staff(LAND, "李强"), LATER)).status == 409
    other = refused(case, lambda: act(case, f"{CASE_ID}-1-1", who=staff(LAND, "孙伟")))
    assert (other.status, "李强" in other.reason) == (409, True)
    assert kinds(act(case, f"{CASE_ID}-1-1", who=staff(LAND, "李强")))[0] == "StepDecided"


def reassign_to(case: RoutedCase, by: Who, to: str, to_department: str = LAND) -> list[msgspec.Struct]:
    return reassign(
        case, f"{CASE_ID}-1-1", by, to_id=to, to_name=to, to_department=to_department, reason="休假", at=LATER
    )


def test_a_step_is_reassigned_only_to_a_colleague_of_its_department() -> None:
    case, _ = routed(single(LAND))
    claim(case, f"{CASE_ID}-1-1", staff(LAND, "李强"), LATER)
    stranger = refused(case, lambda: reassign_to(case, staff(LAND, "李强"), "刘洋", TAX))
    assert (stranger.status, TAX in stranger.reason) == (403, True)
    colleague = refused(case, lambda: reassign_to(case, staff(LAND, "孙伟"), "孙伟"))
    assert (colleague.status, "科室负责人" in colleague.reason) == (403, True)
    moved = reassign_to(case, staff(LAND, "李强"), "孙伟")
    assert isinstance(moved[0], StepReassigned)
    assert (moved[0].from_name, moved[0].to_name) == ("李强", "孙伟")
    by_supervisor = reassign_to(case, staff(LAND, "周建国", "supervisor"), "李强")
    assert isinstance(by_supervisor[0], StepReassigned)
    assert case.steps[0].assignee_id == "李强"


# ---------------------------------------------------------------- 特别程序


EXPERTS = Rules(item_type="01", special_procedures=("专家评审", "听证", "检验"))


def test_a_special_procedure_holds_the_step_until_it_ends() -> None:
    case, _ = routed(single(LAND))
    started = start_special(
        case, f"{CASE_ID}-1-1", staff(LAND), kind="专家评审", reason="技术复杂", at=LATER, rules=EXPERTS
    )
    assert isinstance(started[0], SpecialProcedureStarted)
    assert (started[0].kind, started[0].reason) == ("专家评审", "技术复杂")
    assert refused(case, lambda: act(case, f"{CASE_ID}-1-1")).status == 409
    twice = refused(
        case,
        lambda: start_special(case, f"{CASE_ID}-1-1", staff(LAND), kind="听证", reason="x", at=LATER, rules=EXPERTS),
    )
    assert (twice.status, "专家评审" in twice.reason) == (409, True)
    assert refused(case, lambda: end_special(case, f"{CASE_ID}-1-1", staff(LAND), result=" ", at=LATER)).status == 422
    ended = end_special(case, f"{CASE_ID}-1-1", staff(LAND), result="专家同意", at=LATER)
    assert isinstance(ended[0], SpecialProcedureEnded)
    assert (ended[0].kind, ended[0].result) == ("专家评审", "专家同意")
    assert kinds(act(case, f"{CASE_ID}-1-1"))[0] == "StepDecided"


def test_a_special_procedure_needs_a_reason_and_one_must_be_running_to_end() -> None:
    case, _ = routed(single(LAND))
    no_reason = refused(
        case,
        lambda: start_special(case, f"{CASE_ID}-1-1", staff(LAND), kind="检验", reason="", at=LATER, rules=EXPERTS),
    )
    assert no_reason.status == 422
    nothing = refused(case, lambda: end_special(case, f"{CASE_ID}-1-1", staff(LAND), result="合格", at=LATER))
    assert (nothing.status, nothing.reason) == (409, "该环节没有进行中的特别程序")


# ---------------------------------------------------------------- 延长


def test_an_extension_is_approved_only_by_the_departments_supervisor() -> None:
    case, _ = routed(single(LAND))
    requested = request_extension(
        case, f"{CASE_ID}-1-1", staff(LAND), extension=Limit(10, "WD"), reason="需现场核查", at=LATER
    )
    assert isinstance(requested[0], ExtensionRequested)
    by_staff = refused(
        case, lambda: decide_extension(case, f"{CASE_ID}-1-1", staff(LAND, "孙伟"), approve=True, opinion="", at=LATER)
    )
    assert (by_staff.status, "科室负责人" in by_staff.reason) == (403, True)
    other_boss = refused(
        case,
        lambda: decide_extension(
            case, f"{CASE_ID}-1-1", staff(TAX, "郑秀英", "supervisor"), approve=True, opinion="", at=LATER
        ),
    )
    assert other_boss.status == 403
    approved = decide_extension(
        case, f"{CASE_ID}-1-1", staff(LAND, "周建国", "supervisor"), approve=True, opinion="同意延长", at=LATER
    )
    assert isinstance(approved[0], ExtensionApproved)
    assert approved[0].clock_ids == [f"{CASE_ID}-1-1", CASE_ID]
    assert approved[0].extension == Limit(10, "WD")
    again = refused(
        case,
        lambda: decide_extension(
            case, f"{CASE_ID}-1-1", staff(LAND, "周建国", "supervisor"), approve=True, opinion="", at=LATER
        ),
    )
    assert (again.status, again.reason) == (409, "该环节没有待批准的延长申请")


def test_an_extension_request_needs_a_reason_a_length_and_no_other_pending() -> None:
    case, _ = routed(bundle((LAND, 1)))
    step_id = f"{CASE_ID}-1-1"
    assert (
        refused(
            case, lambda: request_extension(case, step_id, staff(LAND), extension=Limit(0, "WD"), reason="x", at=LATER)
        ).status
        == 422
    )
    assert (
        refused(
            case, lambda: request_extension(case, step_id, staff(LAND), extension=Limit(5, "WD"), reason="", at=LATER)
        ).status
        == 422
    )
    request_extension(case, step_id, staff(LAND), extension=Limit(5, "WD"), reason="鉴定", at=LATER)
    assert (
        refused(
            case,
            lambda: request_extension(case, step_id, staff(LAND), extension=Limit(5, "WD"), reason="再次", at=LATER),
        ).status
        == 409
    )
    rejected = decide_extension(
        case, step_id, staff(LAND, "周建国", "supervisor"), approve=False, opinion="不必", at=LATER
    )
    assert isinstance(rejected[0], ExtensionRejected)
    approved = request_extension(case, step_id, staff(LAND), extension=Limit(5, "WD"), reason="鉴定", at=LATER)
    assert kinds(approved) == ["ExtensionRequested"]
    granted = decide_extension(case, step_id, staff(LAND, "周建国", "supervisor"), approve=True, opinion="", at=LATER)
    assert isinstance(granted[0], ExtensionApproved)
    assert granted[0].clock_ids == [step_id, f"{CASE_NO}-01"]  # a child's clock is its own case no


# ---------------------------------------------------------------- 督办 (escalation from step clocks)


def test_a_step_overrunning_its_limit_is_escalated_once_per_level() -> None:
    case, _ = routed(single(LAND))
    step_id = f"{CASE_ID}-1-1"
    assert escalate(case, step_id, "预警", LATER, LATER) == []
    first = escalate(case, step_id, "逾期", LATER, LATER)
    assert isinstance(first[0], StepEscalated)
    assert (first[0].department, first[0].level, first[0].step_name) == (LAND, "逾期", "承办")
    assert escalate(case, step_id, "逾期", LATER, LATER) == []
    assert kinds(escalate(case, step_id, "严重逾期", LATER, LATER)) == ["StepEscalated"]
    assert escalate(case, "not-a-step", "逾期", LATER, LATER) == []
    act(case, step_id)
    assert escalate(case, step_id, "再次逾期", LATER, LATER) == []  # decided meanwhile: nothing to chase


# ---------------------------------------------------------------- 统一窗口出件


def test_delivery_only_after_completion_and_only_once() -> None:
    case, _ = routed(single(LAND))
    early = refused(case, lambda: window.deliver(case, "窗口", "", LATER))
    assert (early.status, "尚未办结" in early.reason) == (409, True)
    through(case, f"{CASE_ID}-1-1")
    delivered = window.deliver(case, "邮寄", "  奈曼旗大沁他拉镇1号 ", LATER)
    assert isinstance(delivered[0], CaseDelivered)
    assert (delivered[0].method, delivered[0].address, delivered[0].result) == ("邮寄", "奈曼旗大沁他拉镇1号", "准予")
    twice = refused(case, lambda: window.deliver(case, "窗口", "", LATER))
    assert (twice.status, "不能重复出件" in twice.reason) == (409, True)


def test_a_post_delivery_needs_an_address() -> None:
    case, _ = routed(single(LAND))
    through(case, f"{CASE_ID}-1-1")
    refusal = refused(case, lambda: window.deliver(case, "邮寄", " ", LATER))
    assert (refusal.status, refusal.reason) == (422, "邮寄送达须填写收件地址")


def test_a_grant_waits_at_the_window_until_owed_materials_are_complete() -> None:
    owed = [Material("M03", "授权委托书"), Material("M04", "营业执照")]
    case, _ = routed(single(LAND, owed_materials=owed))
    through(case, f"{CASE_ID}-1-1")
    refusal = refused(case, lambda: window.deliver(case, "窗口", "", LATER))
    assert refusal.status == 409
    assert "授权委托书、营业执照" in refusal.reason
    window.supplemented(case, [Material("M03")], complete=False, at=LATER)
    assert "营业执照" in refused(case, lambda: window.deliver(case, "窗口", "", LATER)).reason
    window.supplemented(case, [], complete=True, at=LATER)
    assert kinds(window.deliver(case, "窗口", "", LATER)) == ["CaseDelivered"]


def test_a_refusal_is_delivered_with_its_reasons_even_while_materials_are_owed() -> None:
    case, _ = routed(single(LAND, owed_materials=[Material("M03", "授权委托书")]))
    act(case, f"{CASE_ID}-1-1", "不予许可", opinion="申请人不具备资格")
    delivered = window.deliver(case, "窗口", "", LATER)
    assert isinstance(delivered[0], CaseDelivered)
    assert delivered[0].result == "不予"
    assert delivered[0].reasons == ["用气报装（自然资源局）：申请人不具备资格"]


def test_a_suspended_case_is_not_decided_until_the_materials_come() -> None:
    case, _ = routed(single(LAND, owed_materials=[Material("M03", "授权委托书")]))
    window.suspended(case, "容缺材料逾期未补齐")
    refusal = refused(case, lambda: act(case, f"{CASE_ID}-1-1"))
    assert (refusal.status, "中止" in refusal.reason) == (409, True)
    window.supplemented(case, ["M03"], complete=True, at=LATER)
    assert kinds(act(case, f"{CASE_ID}-1-1"))[0] == "StepDecided"


# ---------------------------------------------------------------- 跨省通办


RECEIPT = Limit(2, "WD")


def sent_case(**fields: object) -> tuple[RoutedCase, list[msgspec.Struct]]:
    """A 跨省通办 case received here (services/routing/external.py) and sent by the clerk."""
    case = external.open_case(CASE_ID, single(HOUSING, cross_province=True, **fields))
    command = SendHandover(method="邮寄原件", tracking_no="SF100", materials=[Material("M01", "身份证")])
    return case, external.send(case, command, AT, RECEIPT)


def test_a_cross_province_case_waits_for_the_clerk_to_send_it() -> None:
    case = external.open_case(CASE_ID, single(HOUSING, cross_province=True, jurisdiction="河北省"))
    assert (case.steps, case.tracks[0].status, case.tracks[0].external) == ([], "未开始", True)
    blank = SendHandover(method="邮寄原件", tracking_no=" ")
    assert refused(case, lambda: external.send(case, blank, AT, RECEIPT)).status == 422
    assert external.result(case, "准予", "", "河北省", LATER) == []  # not sent yet: nothing to decide


def test_a_cross_province_case_is_handed_over_and_completed_by_the_external_result() -> None:
    case, published = sent_case(jurisdiction="河北省石家庄市", applicant_name="赵小红")
    assert kinds(published) == ["HandedOver", "ClockRequested"]
    handed, wait = published
    assert isinstance(handed, HandedOver)
    assert isinstance(wait, ClockRequested)
    assert (handed.jurisdiction, handed.applicant_name, handed.tracking_no) == ("河北省石家庄市", "赵小红", "SF100")
    assert [m.code for m in handed.materials] == ["M01"]
    assert (wait.purpose, wait.department, wait.limit) == ("待对方接收", "河北省石家庄市", RECEIPT)
    again = SendHandover(method="电子推送", tracking_no="X")
    assert refused(case, lambda: external.send(case, again, LATER, RECEIPT)).status == 409
    assert kinds(external.received(case, "SJZ-2026-001", LATER)) == ["ClockWithdrawn"]
    assert external.received(case, "SJZ-2026-002", LATER) == []  # a repeated receipt changes nothing
    done = external.result(case, "准予", "", "河北省石家庄市", LATER, licence_name="结婚证", licence_no="J1")
    assert kinds(done) == ["CaseCompleted"]
    assert external.result(case, "不予", "", "河北省石家庄市", LATER) == []  # a repeated result changes nothing
    assert (case.result, case.external_case_no, case.tracks[0].licence_no) == ("准予", "SJZ-2026-001", "J1")


def test_an_external_refusal_carries_the_other_jurisdictions_reason() -> None:
    case, _ = sent_case(jurisdiction="河北省")
    done = external.result(case, "不予", "", "河北省", LATER)
    assert kinds(done) == ["ClockWithdrawn", "CaseCompleted"]  # a result without a receipt counts as one
    assert isinstance(done[1], CaseCompleted)
    assert done[1].reasons == ["用气报装（住建局）：河北省不予许可"]


# ---------------------------------------------------------------- storage


def test_a_case_survives_its_json_round_trip() -> None:
    case, _ = routed(bundle((HOUSING, 1), (TAX, 2)))
    act(case, f"{CASE_ID}-1-1", "退回")
    restored = msgspec.json.decode(msgspec.json.encode(case), type=RoutedCase)
    assert restored == case
    window.supplemented(restored, [], complete=True, at=LATER)
    assert kinds(through(restored, f"{CASE_ID}-1-1"))[-2:] == ["ChildCompleted", "StepOpened"]


def test_an_older_case_accepted_without_the_new_fields_still_routes() -> None:
    old = msgspec.json.decode(
        b'{"case_no":"1","item_name":"\xe6\x9f\xa5\xe5\xb0\x81\xe7\x99\xbb\xe8\xae\xb0","departments":["LAND"]}',
        type=CaseAccepted,
    )
    case, published = open_case("old", old, AT)
    assert kinds(published) == ["StepOpened"]
    assert case.tracks[0].promised_limit == Limit(0, "WD")


# ---------------------------------------------------------------- 岗位分离, 延长上限, 特别程序种类, 书面告知


def test_one_person_may_not_do_two_steps_of_one_track_unless_the_item_allows_it() -> None:
    case, _ = routed(single(LAND))
    li, sun, boss = staff(LAND, "李强"), staff(LAND, "孙伟"), staff(LAND, "周建国", "supervisor")
    act(case, f"{CASE_ID}-1-1", who=li)
    review = f"{CASE_ID}-1-2"
    for command in (lambda: claim(case, review, li, LATER), lambda: act(case, review, who=li)):
        refusal = refused(case, command)
        assert refusal.status == 403
        assert refusal.reason.startswith("同一办件的承办、审核、决定须由不同人员办理：李强已办理本件的承办")
    act(case, review, who=sun)
    decision = f"{CASE_ID}-1-3"
    claim(case, decision, boss, LATER)
    to_li = refused(
        case,
        lambda: reassign(case, decision, boss, to_id="李强", to_name="李强", to_department=LAND, reason="", at=LATER),
    )
    assert (to_li.status, "李强已办理本件的承办" in to_li.reason) == (403, True)
    assert refused(case, lambda: act(case, decision, who=sun)).status in {403, 409}  # claimed by the boss
    assert kinds(act(case, decision, who=boss)) == ["StepDecided", "CaseCompleted"]

    quick, _ = routed(single(LAND))
    alone = Rules(one_person=True)
    for seq in (1, 2, 3):
        step_id = f"{CASE_ID}-1-{seq}"
        claim(quick, step_id, li, LATER, alone)
        decide(quick, step_id, action="通过", opinion="当场办结", who=li, at=LATER, rules=alone)
    assert quick.status == "已办结"


def test_one_person_may_do_steps_of_different_tracks() -> None:
    case, _ = routed(bundle((LAND, 1), (LAND, 1)))
    li = staff(LAND, "李强")
    act(case, f"{CASE_ID}-1-1", who=li)
    assert kinds(act(case, f"{CASE_ID}-2-1", who=li))[0] == "StepDecided"


def test_a_special_procedure_must_be_of_a_kind_the_item_allows() -> None:
    case, _ = routed(single(HOUSING))
    step_id = f"{CASE_ID}-1-1"
    none = refused(case, lambda: start_special(case, step_id, staff(HOUSING), kind="听证", reason="x", at=LATER))
    assert (none.status, none.reason) == (422, "本事项不适用特别程序，不能启动听证（事项目录未列特别程序）")
    water = Rules(item_type="20", special_procedures=("检验",))
    other = refused(
        case,
        lambda: start_special(case, step_id, staff(HOUSING), kind="听证", reason="x", at=LATER, rules=water),
    )
    assert (other.status, other.reason) == (422, "本事项只适用以下特别程序：检验，不能启动听证")
    started = start_special(case, step_id, staff(HOUSING), kind="检验", reason="管网压力检验", at=LATER, rules=water)
    assert kinds(started) == ["SpecialProcedureStarted", "ApplicantNotified"]
    notice = started[1]
    assert isinstance(notice, ApplicantNotified)
    assert (notice.kind, notice.title, notice.notice_no) == ("特别程序", "特别程序告知书", f"{CASE_NO}-GZ01")
    assert "需要进行检验，理由：管网压力检验" in notice.text
    assert "行政许可法" not in notice.text  # 用水报装 is a 公共服务, not a 行政许可


def test_an_extension_is_capped_in_count_and_length_and_notified_once_approved() -> None:
    case, _ = routed(single(LAND, applicant_name="王芳", applicant_phone="enc:v1:sealed"))
    step_id = f"{CASE_ID}-1-1"
    boss = staff(LAND, "周建国", "supervisor")
    licensing = Rules(item_type="01")
    too_long = refused(
        case,
        lambda: request_extension(
            case, step_id, staff(LAND), extension=Limit(11, "WD"), reason="x", at=LATER, rules=licensing
        ),
    )
    assert (too_long.status, too_long.reason) == (
        422,
        "延长时限不得超过10个工作日（《中华人民共和国行政许可法》第四十二条），申请的11个工作日超出上限",
    )
    natural = refused(
        case,
        lambda: request_extension(
            case, step_id, staff(LAND), extension=Limit(5, "ND"), reason="x", at=LATER, rules=licensing
        ),
    )
    assert natural.status == 422
    request_extension(case, step_id, staff(LAND), extension=Limit(10, "WD"), reason="需现场核查", at=LATER)
    approved = decide_extension(case, step_id, boss, approve=True, opinion="同意", at=LATER, rules=licensing)
    assert kinds(approved) == ["ExtensionApproved", "ApplicantNotified"]
    notice = approved[1]
    assert isinstance(notice, ApplicantNotified)
    assert (notice.title, notice.applicant_name, notice.applicant_phone) == (
        "延长审批期限告知书",
        "王芳",
        "enc:v1:sealed",
    )
    assert notice.text == (
        "王芳：您申请办理的“用气报装”（办件编号 15052520260302000042），因需现场核查，不能在原定期限内办结。"
        "经自然资源局负责人批准，办理期限延长10个工作日（《中华人民共和国行政许可法》第四十二条）。特此告知。"
    )
    second = refused(
        case,
        lambda: request_extension(
            case, step_id, staff(LAND), extension=Limit(1, "WD"), reason="x", at=LATER, rules=licensing
        ),
    )
    assert (second.status, second.reason) == (
        422,
        "本事项只能延长1次、每次不超过10个工作日（《中华人民共和国行政许可法》第四十二条），已延长1次，不能再延长",
    )
    act(case, step_id)  # the cap is the item's (its track's), not the step's
    later = refused(
        case,
        lambda: request_extension(
            case, f"{CASE_ID}-1-2", staff(LAND), extension=Limit(1, "WD"), reason="x", at=LATER, rules=licensing
        ),
    )
    assert later.status == 422

    own_law = Rules(cap=ExtensionCap(count=2, limit=Limit(5, "WD"), basis="某条例第九条"))
    other, _ = routed(single(LAND))
    for _round in range(2):
        request_extension(other, step_id, staff(LAND), extension=Limit(5, "WD"), reason="x", at=LATER, rules=own_law)
        decide_extension(other, step_id, boss, approve=True, opinion="", at=LATER, rules=own_law)
    third = refused(
        other,
        lambda: request_extension(
            other, step_id, staff(LAND), extension=Limit(5, "WD"), reason="x", at=LATER, rules=own_law
        ),
    )
    assert "本事项只能延长2次、每次不超过5个工作日（某条例第九条）" in third.reason


def test_the_rules_come_from_the_items_catalogue_entry() -> None:
    catalogue = load_catalogue()
    gas, licence, seal = (rules_of(catalogue, code) for code in (GAS, QUALIFICATION, SEAL))
    assert (gas.one_person, gas.special_procedures, gas.cap.limit) == (False, (), Limit(10, "WD"))
    assert gas.cap.basis == DEFAULT_CAP.basis  # 公共服务: the hall's own rule, not 行政许可法 §42 itself
    assert (licence.special_procedures, licence.cap.count) == (("专家评审",), 1)
    assert licence.cap.basis == "《中华人民共和国行政许可法》第四十二条"
    assert seal.one_person
    assert rules_of(catalogue, "no-such-item") == Rules()  # unknown: separation, one extension, no procedure


def test_the_catalogue_refuses_one_person_on_an_item_that_is_not_a_quick_one() -> None:
    data = msgspec.toml.decode(DEFAULT_PATH.read_bytes(), type=_File)
    gas = next(i for i in data.items if i.code == GAS)
    with pytest.raises(CatalogueError, match="只有即办件可以由一人办理"):
        check(msgspec.structs.replace(data, items=[msgspec.structs.replace(gas, one_person=True)]))
    capped = msgspec.structs.replace(gas, extension_cap=CatalogueCap(count=2, limit=CatalogueLimit(5, "WD")))
    assert capped.extension_rule == CatalogueCap(count=2, limit=CatalogueLimit(5, "WD"))
