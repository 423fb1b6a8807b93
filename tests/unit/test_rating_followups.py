"""差评整改流程：待核实 → 申诉 → 无效差评，或整改中（一次延期）→ 整改完成 / 无法整改；实名差评办结前须回访；
评价人可评价整改结果。纯函数测试。"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from services.evaluation import followups
from services.evaluation.messages import (
    CloseCorrection,
    ExtendCorrection,
    FollowUp,
    Rater,
    RecordReturnVisit,
    ReviewAppeal,
    VerifyBadReview,
)
from shared.envelope import Actor
from shared.levels import Level
from shared.replies import Refusal

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
STAFF = Actor(kind="staff", id="zrzy-li", name="李强")
BOSS = Actor(kind="supervisor", id="zrzy-boss", name="周建国")
OTHER_STAFF = Actor(kind="staff", id="zj-zhao", name="赵丽")
OPERATOR = Actor(kind="operator", id="op-qian")
HALL = Actor(kind="hall-supervisor", id="hall-boss", name="乌兰")  # 政务服务管理机构
DEPT = "自然资源局"
HALL_DEPT = "行政审批和政务服务局"


def bad_review(real_name: bool = True) -> FollowUp:
    return FollowUp(
        followup_id="r1",
        case_id="case-1",
        case_no="C1",
        item_code="11150525000118001",
        item_name="查封登记",
        stage="办结",
        department=DEPT,
        clerk="clerk-zhang",
        rating_id="r1",
        level="不满意",
        text="等了很久",
        rater=Rater(kind="applicant", name="赵小红" if real_name else "匿名", real_name=real_name),
        region_code="150525",
        opened_at=T0,
        clock_id="r1:整改:1",
    )


def refusal_of(step: Callable[..., object], *args: object) -> Refusal:
    with pytest.raises(Refusal) as caught:
        step(*args)
    return caught.value


def visit(f: FollowUp, actor: Actor = STAFF) -> None:
    followups.visit(f, RecordReturnVisit(followup_id="r1", method="电话", note="已致歉", department=DEPT), actor, T0)


def test_the_appeal_path_ends_in_an_invalid_bad_review_after_the_hall_supervisors_ruling() -> None:
    f = bad_review()
    verify = VerifyBadReview(
        followup_id="r1", outcome="申诉", reply="经核实系误评", appeal_reason="评价人误点", department=DEPT
    )
    assert followups.verify(f, verify, STAFF, T0) == "核实后提出申诉：评价人误点"
    assert (f.status, f.reply, f.replied_by) == ("申诉中", "经核实系误评", "zrzy-li")
    review = ReviewAppeal(followup_id="r1", upheld=True, opinion="录像显示误点", department=HALL_DEPT)
    # A real-name bad review is closed only after the return visit.
    assert (
        refusal_of(followups.review_appeal, f, review, HALL, True).reason
        == "实名差评（办件 C1）须先回访评价人，才能办结"
    )
    visit(f)
    assert followups.review_appeal(f, review, HALL, True) == "申诉成立，认定为无效差评：录像显示误点"
    assert f.status == "无效差评"


def test_the_rated_department_never_rules_on_its_appeal_nor_does_another_department() -> None:
    f = bad_review(real_name=False)
    verify = VerifyBadReview(followup_id="r1", outcome="申诉", reply="误评", appeal_reason="误点", department=DEPT)
    followups.verify(f, verify, STAFF, T0)
    own = ReviewAppeal(followup_id="r1", upheld=True, opinion="同意", department=DEPT)
    refusal = refusal_of(followups.review_appeal, f, own, BOSS, True)
    assert (refusal.status, refusal.reason) == (
        403,
        "被评价部门不能裁决对本部门的申诉：该差评计入自然资源局，申诉由政务服务管理机构裁决",
    )
    other = ReviewAppeal(followup_id="r1", upheld=True, opinion="同意", department="住建局")
    assert refusal_of(followups.review_appeal, f, other, OTHER_STAFF, True).reason == (
        "申诉由政务服务管理机构（大厅管理人员）或运维人员裁决"
    )
    assert f.status == "申诉中"
    ruled = ReviewAppeal(followup_id="r1", upheld=True, opinion="同意", department=HALL_DEPT)
    assert followups.review_appeal(f, ruled, HALL, True) == "申诉成立，认定为无效差评：同意"


def test_a_window_bad_review_charged_to_the_hall_department_is_ruled_by_an_operator_only() -> None:
    f = bad_review(real_name=False)
    f.department, f.departments, f.stage = HALL_DEPT, [HALL_DEPT], "受理"
    verify = VerifyBadReview(followup_id="r1", outcome="申诉", reply="误评", appeal_reason="误点", department=HALL_DEPT)
    followups.verify(f, verify, HALL, T0)
    review = ReviewAppeal(followup_id="r1", upheld=False, opinion="理由不足", department=HALL_DEPT)
    assert refusal_of(followups.review_appeal, f, review, HALL, True).reason.startswith(
        "被评价部门不能裁决对本部门的申诉"
    )
    assert followups.review_appeal(f, review, OPERATOR, True) == "申诉不成立，转入整改：理由不足"


def test_nobody_rules_on_their_own_appeal() -> None:
    f = bad_review(real_name=False)
    verify = VerifyBadReview(followup_id="r1", outcome="申诉", reply="误评", appeal_reason="误点")
    followups.verify(f, verify, OPERATOR, T0)
    review = ReviewAppeal(followup_id="r1", upheld=True, opinion="同意")
    assert refusal_of(followups.review_appeal, f, review, OPERATOR, True).reason == "申诉人不能审核自己的申诉"


def test_a_rejected_appeal_turns_into_a_correction() -> None:
    f = bad_review()
    followups.verify(
        f, VerifyBadReview(followup_id="r1", outcome="申诉", reply="r", appeal_reason="a", department=DEPT), STAFF, T0
    )
    rejected = ReviewAppeal(followup_id="r1", upheld=False, opinion="理由不足", department=HALL_DEPT)
    assert followups.review_appeal(f, rejected, HALL, True) == "申诉不成立，转入整改：理由不足"
    assert f.status == "整改中"


def test_verification_needs_a_reply_and_an_appeal_its_reason() -> None:
    f = bad_review()
    no_reply = VerifyBadReview(followup_id="r1", outcome="整改", reply="  ", department=DEPT)
    assert refusal_of(followups.verify, f, no_reply, STAFF, T0).reason == "请填写给评价人的回复（差评回复）"
    no_reason = VerifyBadReview(followup_id="r1", outcome="申诉", reply="好的", department=DEPT)
    assert refusal_of(followups.verify, f, no_reason, STAFF, T0).reason == "请填写申诉理由"
    assert f.status == "待核实"


def test_another_department_may_not_handle_it_but_the_halls_operators_may() -> None:
    f = bad_review()
    cmd = VerifyBadReview(followup_id="r1", outcome="整改", reply="立即整改", department="住建局")
    refusal = refusal_of(followups.verify, f, cmd, OTHER_STAFF, T0)
    assert refusal.status == 403
    assert "该差评由自然资源局处理" in refusal.reason
    assert followups.verify(f, cmd, OPERATOR, T0) == "核实后确认整改"


def correcting(real_name: bool = True) -> FollowUp:
    f = bad_review(real_name)
    followups.verify(f, VerifyBadReview(followup_id="r1", outcome="整改", reply="立即整改", department=DEPT), STAFF, T0)
    return f


def test_a_correction_is_extended_once_and_only_while_its_deadline_is_known_and_not_passed() -> None:
    f = correcting()
    extend = ExtendCorrection(followup_id="r1", reason="需协调供电公司", department=DEPT)
    assert refusal_of(followups.extend, f, extend, STAFF).reason == "整改期限尚未确定，请稍后再申请延期"
    f.deadline = T0 + timedelta(days=21)
    assert followups.extend(f, extend, STAFF) == "整改延期一次：需协调供电公司"
    assert refusal_of(followups.extend, f, extend, STAFF).reason == "整改期限已延长过一次，不能再次延长"
    late = correcting()
    late.deadline, late.overdue = T0, True
    assert refusal_of(followups.extend, late, extend, STAFF).reason == "整改已逾期，不能再申请延期"


def test_closing_needs_the_return_visit_for_a_real_name_and_a_reason_when_it_cannot_be_corrected() -> None:
    f = correcting()
    done = CloseCorrection(followup_id="r1", outcome="整改完成", explanation="已增设窗口", department=DEPT)
    assert refusal_of(followups.close, f, done, STAFF, T0, True).status == 409
    visit(f)
    assert (
        refusal_of(
            followups.visit,
            f,
            RecordReturnVisit(followup_id="r1", method="电话", note="再访", department=DEPT),
            STAFF,
            T0,
        ).reason
        == "该差评已有回访记录"
    )
    assert followups.close(f, done, STAFF, T0, True) == "整改完成：已增设窗口"
    assert f.status == "整改完成"
    anonymous = correcting(real_name=False)
    cannot = CloseCorrection(followup_id="r1", outcome="无法整改", explanation=" ", department=DEPT)
    assert refusal_of(followups.close, anonymous, cannot, STAFF, T0, True).reason == "请填写无法整改的原因"
    cannot = CloseCorrection(followup_id="r1", outcome="无法整改", explanation="法定材料不可免", department=DEPT)
    assert followups.close(anonymous, cannot, STAFF, T0, True) == "无法整改：法定材料不可免"


def test_the_rater_rates_the_correction_once_after_it_is_closed() -> None:
    f = correcting()
    assert (
        refusal_of(followups.rate_correction, f, Level.SATISFIED, T0).reason
        == "差评（办件 C1）尚未整改办结，暂不能评价整改结果"
    )
    visit(f)
    followups.close(
        f, CloseCorrection(followup_id="r1", outcome="整改完成", explanation="", department=DEPT), STAFF, T0, True
    )
    assert followups.rate_correction(f, Level.SATISFIED, T0) == "评价人评价整改结果：满意"
    assert f.correction_level == "满意"
    assert refusal_of(followups.rate_correction, f, Level.VERY_SATISFIED, T0).reason == "已评价过整改结果，不能重复评价"


def test_a_closed_follow_up_takes_no_more_steps() -> None:
    f = correcting(real_name=False)
    followups.close(
        f, CloseCorrection(followup_id="r1", outcome="整改完成", explanation="", department=DEPT), STAFF, T0, True
    )
    refusal = refusal_of(
        followups.verify, f, VerifyBadReview(followup_id="r1", outcome="整改", reply="x", department=DEPT), STAFF, T0
    )
    assert (refusal.status, refusal.reason) == (409, "差评（办件 C1）当前为“整改完成”，不能办理此项")


def test_with_a_return_visit_deadline_a_correction_closes_first_and_the_visit_follows() -> None:
    f = correcting()
    done = CloseCorrection(followup_id="r1", outcome="整改完成", explanation="已增设窗口", department=DEPT)
    assert followups.close(f, done, STAFF, T0, True, visit_after=True) == "整改完成：已增设窗口"
    assert followups.visit_pending(f, True)
    visit(f)  # after 整改完成, within the 回访 deadline
    assert f.visit is not None
    assert not followups.visit_pending(f, True)


def test_a_bad_review_charged_to_two_departments_is_handled_by_either() -> None:
    f = bad_review()
    f.departments = [HALL_DEPT, DEPT]  # 整体: the window's and the deciding department's
    by_window = VerifyBadReview(followup_id="r1", outcome="整改", reply="立即整改", department=HALL_DEPT)
    assert followups.verify(f, by_window, HALL, T0) == "核实后确认整改"
    outsider = RecordReturnVisit(followup_id="r1", method="电话", note="x", department="住建局")
    refusal = refusal_of(followups.visit, f, outsider, OTHER_STAFF, T0)
    assert (refusal.status, refusal.reason) == (
        403,
        "该差评由行政审批和政务服务局、自然资源局处理，赵丽（住建局）无权办理",
    )
