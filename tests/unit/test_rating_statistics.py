"""好差评统计：一组小数据，逐项手算（见各断言旁的算式），按部门、事项、工作人员、月份统计并可筛选。"""

from __future__ import annotations

from datetime import UTC, date, datetime
from fractions import Fraction

import msgspec
import pytest

from services.gateway.ratings.masking import mask_id, mask_name
from services.gateway.ratings.statistics import Figures, Filter, statistics
from services.gateway.views.evaluation import Charge, FollowUp, Rater, RatingRecorded, Visit

A, B = "自然资源局", "住建局"
X, Y = ("11150525000118001", "查封登记"), ("11150525000120002", "用气报装")
PERSON = Rater(name="赵小红", id_number="150525199001011234", real_name=True)
SYSTEM = Rater(name="系统", real_name=False)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def rating(
    rid: str,
    dept: str,
    item: tuple[str, str],
    clerk: str,
    level: str,
    *,
    on: str,
    default: bool = False,
    kind: str = "首评",
) -> RatingRecorded:
    return RatingRecorded(
        rating_id=rid,
        case_no=f"C-{rid}",
        item_code=item[0],
        item_name=item[1],
        stage="办结",
        department=dept,
        clerk=clerk,
        channel="系统默认" if default else "自助终端",
        rater=SYSTEM if default else PERSON,
        level=level,
        indicators={},
        text="",
        kind=kind,
        default=default,
        bad_review=level in ("不满意", "非常不满意"),
        rated_at=at(on),
    )


def followup(
    fid: str,
    dept: str,
    item: tuple[str, str],
    clerk: str,
    *,
    on: str,
    status: str,
    replied: bool,
    visited: bool,
    correction: str | None = None,
) -> FollowUp:
    return FollowUp(
        followup_id=fid,
        case_id=f"case-{fid}",
        case_no=f"C-{fid}",
        item_code=item[0],
        item_name=item[1],
        stage="办结",
        department=dept,
        clerk=clerk,
        level="不满意",
        text="",
        rater=PERSON,
        opened_at=at(on),
        status=status,
        replied_at=at(on) if replied else None,
        visit=Visit(method="电话", note="已回访", by="zrzy-li", at=at(on)) if visited else None,
        correction_level=correction,
    )


RATINGS = [
    rating("r1", A, X, "zhang", "非常满意", on="2026-03-02T02:00:00"),
    rating("r2", A, X, "zhang", "满意", on="2026-03-09T02:00:00", default=True),
    rating("r3", A, X, "wang", "不满意", on="2026-03-03T02:00:00"),
    rating("r4", B, Y, "wang", "基本满意", on="2026-03-31T17:00:00"),  # 2026-04-01 01:00 in 奈曼旗
    rating("r5", B, Y, "wang", "非常不满意", on="2026-04-02T02:00:00"),
    rating("r6", B, Y, "zhang", "满意", on="2026-04-10T02:00:00", default=True),
    rating("r7", A, X, "zhang", "非常满意", on="2026-03-03T02:00:00", kind="追评"),  # never counted again
    rating("r8", B, Y, "wang", "不满意", on="2026-04-03T02:00:00"),
]
FOLLOWUPS = [
    followup(
        "r3", A, X, "wang", on="2026-03-03T02:00:00", status="整改完成", replied=True, visited=True, correction="满意"
    ),
    followup("r5", B, Y, "wang", on="2026-04-02T02:00:00", status="无效差评", replied=True, visited=True),
    followup("r8", B, Y, "wang", on="2026-04-03T02:00:00", status="待核实", replied=False, visited=False),
]


def rates(figures: Figures) -> tuple[Fraction | None, ...]:
    """The six rates as fractions, so the hand-computed values compare exactly."""
    values = (
        figures.good_rate,
        figures.active_good_rate,
        figures.unrated_rate,
        figures.reply_rate,
        figures.visit_correction_rate,
        figures.visit_correction_satisfaction,
    )
    return tuple(None if v is None else Fraction(v).limit_denominator(1000) for v in values)


def F(numerator: int, denominator: int) -> Fraction:  # noqa: N802 (reads like the formula)
    return Fraction(numerator, denominator)


def test_the_whole_hall() -> None:
    (total,) = statistics(RATINGS, FOLLOWUPS)
    assert total.group == "合计"
    # 7 first ratings (r7 is a 追评), less r5 ruled 无效差评: 6 — 4 given by raters (r1 r3 r4 r8), 2 defaults (r2 r6).
    assert (total.services, total.active, total.defaults) == (6, 4, 2)
    # good: r1 r2 r4 r6 = 4; good among active: r1 r4 = 2.
    assert (total.good, total.active_good) == (4, 2)
    # 2 valid bad reviews (r3 r8; r5 is shown apart as invalid), 1 answered, 1 corrected with a visit, rated 满意.
    assert (total.bad_reviews, total.replied, total.invalid, total.visited_corrected) == (2, 1, 1, 1)
    assert rates(total) == (F(4, 6), F(2, 4), F(2, 6), F(1, 2), F(1, 2), F(1, 1))


def test_by_department() -> None:
    by = {g.group: g for g in statistics(RATINGS, FOLLOWUPS, "department")}
    assert set(by) == {A, B}
    # 自然资源局: r1 r2 r3 → good r1 r2 = 2/3, active good r1 of r1 r3 = 1/2, default r2 = 1/3; r3's follow-up done.
    assert rates(by[A]) == (F(2, 3), F(1, 2), F(1, 3), F(1, 1), F(1, 1), F(1, 1))
    # 住建局: r4 r6 r8 (r5 无效差评 left out) → good r4 r6 = 2/3, active good r4 of r4 r8 = 1/2, default r6 = 1/3;
    # follow-up r8 only (not answered): reply 0/1, corrected 0/1, none rated; r5 counted apart.
    assert rates(by[B]) == (F(2, 3), F(1, 2), F(1, 3), F(0, 1), F(0, 1), None)
    assert (by[B].bad_reviews, by[B].invalid) == (1, 1)


def test_by_clerk_and_item() -> None:
    by_clerk = {g.group: g for g in statistics(RATINGS, FOLLOWUPS, "clerk")}
    # zhang: r1 r2 r6, all good, one given (r1), two defaults; no bad reviews.
    assert rates(by_clerk["zhang"]) == (F(1, 1), F(1, 1), F(2, 3), None, None, None)
    # wang: r3 r4 r8 (r5 无效差评 left out), good r4 only; every one given; follow-ups r3 r8.
    assert rates(by_clerk["wang"]) == (F(1, 3), F(1, 3), F(0, 1), F(1, 2), F(1, 2), F(1, 1))
    by_item = {g.group: g for g in statistics(RATINGS, FOLLOWUPS, "item")}
    assert set(by_item) == {"查封登记", "用气报装"}
    assert by_item["查封登记"].services == 3


def test_by_month_in_local_time() -> None:
    months = statistics(RATINGS, FOLLOWUPS, "period")
    assert [m.group for m in months] == ["2026-03", "2026-04"]
    # r4 was given at 01:00 on 1 April in 奈曼旗 (31 March in UTC): it counts for April (r4 r6 r8; r5 is invalid).
    assert (months[0].services, months[1].services) == (3, 3)


def test_filters_by_period_department_item_and_clerk() -> None:
    (april,) = statistics(RATINGS, FOLLOWUPS, where=Filter(since=date(2026, 4, 1)))
    assert (april.services, april.bad_reviews, april.invalid) == (3, 1, 1)
    (march,) = statistics(RATINGS, FOLLOWUPS, where=Filter(until=date(2026, 3, 31)))
    assert (march.services, march.bad_reviews) == (3, 1)
    (wang_in_b,) = statistics(RATINGS, FOLLOWUPS, where=Filter(department=B, clerk="wang", item=Y[0]))
    assert (wang_in_b.services, wang_in_b.active_good) == (2, 1)
    assert statistics(RATINGS, FOLLOWUPS, where=Filter(department="民政局")) == []


def test_a_rating_counts_to_every_party_it_is_charged_to_and_once_in_the_total() -> None:
    """谁办理谁负责: 受理 → the window (行政审批和政务服务局, clerk-zhang); 整体 → the window and the decision."""
    window, decision = (
        Charge(to="window", department="行政审批和政务服务局", clerk="zhang", point="hall"),
        Charge(to="decision", department=A, clerk="li"),
    )
    at_window = msgspec.structs.replace(
        rating("w1", window.department, X, "zhang", "不满意", on="2026-03-02T02:00:00"), stage="受理", charged=[window]
    )
    whole = msgspec.structs.replace(
        rating("w2", window.department, X, "zhang", "满意", on="2026-03-02T03:00:00"),
        stage="整体",
        charged=[window, decision],
    )
    by = {g.group: g for g in statistics([at_window, whole], [], "department")}
    # 行政审批和政务服务局: w1 (bad) and w2 (good) → 1/2; 自然资源局: w2 only → 1/1.
    assert (by["行政审批和政务服务局"].services, by[A].services) == (2, 1)
    assert rates(by["行政审批和政务服务局"])[0] == F(1, 2)
    assert rates(by[A])[0] == F(1, 1)
    by_clerk = {g.group: g.services for g in statistics([at_window, whole], [], "clerk")}
    assert by_clerk == {"zhang": 2, "li": 1}
    (total,) = statistics([at_window, whole], [])
    assert total.services == 2
    (filtered,) = statistics([at_window, whole], [], where=Filter(department=A))
    assert filtered.services == 1


@pytest.mark.parametrize(
    ("name", "masked"),
    [("赵小红", "赵**"), ("张敏", "张*"), ("内蒙古某某有限公司", "内蒙*******"), ("匿名", "匿名"), ("", "匿名")],
)
def test_names_are_masked_for_the_public(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_id_numbers_are_masked_for_the_public() -> None:
    assert mask_id("150525199001011234") == "150***********1234"
    assert mask_id("91150525MA0N1234X5") == "911***********34X5"
    assert mask_id("") == ""
