"""一次一评的规则：谁能评、评哪项服务、何时评；每次拒绝都说明原因。纯函数测试，不连 Kafka/Redis。"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from services.evaluation.ratings import (
    Attempt,
    CaseFile,
    NotOpen,
    StageRecord,
    admit,
    indicators_of,
    level_of,
)
from services.evaluation.tokens import Claims
from shared.envelope import Actor
from shared.rating_policy import load_policy
from shared.replies import Refusal

POLICY = load_policy()
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in 奈曼旗, a Monday
KIOSK = Actor(kind="kiosk", id="kiosk-01")
PAD = Actor(kind="pad", id="pad-01")
OTHER_PAD = Actor(kind="pad", id="pad-09")
CLERK = Actor(kind="clerk", id="clerk-zhang")
OPERATOR = Actor(kind="operator", id="op-qian")


def case(**stages: StageRecord) -> CaseFile:
    return CaseFile(
        case_no="C1",
        item_code="11150525000118001",
        item_name="查封登记",
        department="自然资源局",
        region_code="150525",
        applicant_name="赵小红",
        applicant_id_number="150525199001011234",
        accepted_by="clerk-zhang",
        accepted_at=T0,
        delivered_by="clerk-wang" if "办结" in stages else "",
        delivered_at=T0 + timedelta(hours=2) if "办结" in stages else None,
        stages=dict(stages),
    )


def opened(hours: float = 0, clerk: str = "clerk-zhang", **fields: object) -> StageRecord:
    stage = StageRecord(opened_at=T0 + timedelta(hours=hours), clerk=clerk, clock_id=f"c:{hours}")
    return msgspec.structs.replace(stage, **fields)


def attempt(
    actor: Actor = KIOSK, channel: str = "自助终端", stage: str = "", kind: str = "首评", **extra: object
) -> Attempt:
    fields: dict[str, object] = {"stage": stage, "kind": kind, "channel": channel, "actor": actor, "claims": None}
    fields["at"] = T0 + timedelta(hours=3)
    fields["applicant_id_tail"] = "011234"  # the applicant's own: a kiosk asks for it
    fields.update(extra)
    return msgspec.convert(fields, Attempt, from_attributes=True)


def refused(case_file: CaseFile, tried: Attempt) -> Refusal:
    with pytest.raises(Refusal) as caught:
        admit(case_file, tried, POLICY)
    return caught.value


def test_without_a_stage_the_service_just_given_is_rated() -> None:
    both = case(受理=opened(0), 办结=opened(2, clerk="clerk-wang"))
    assert admit(both, attempt(), POLICY) == "办结"
    assert admit(case(受理=opened(0)), attempt(), POLICY) == "受理"


def test_a_service_not_delivered_yet_cannot_be_rated() -> None:
    refusal = refused(case(受理=opened(0)), attempt(stage="办结"))
    assert isinstance(refusal, NotOpen)
    assert (refusal.status, refusal.reason) == (409, "办件 C1 尚未出件，暂不能评价")


def test_a_second_first_rating_is_refused_with_when_the_first_was_given() -> None:
    rated = case(受理=opened(0, first_id="r1", first_at=T0 + timedelta(minutes=5)))
    refusal = refused(rated, attempt())
    assert refusal.status == 409
    assert "已于 2026-03-02 09:05 评价，不能重复评价" in refusal.reason


def test_a_rating_after_the_window_is_refused_with_its_end() -> None:
    closed = case(受理=opened(0, window_ends_at=T0 + timedelta(hours=1)))
    refusal = refused(closed, attempt())
    assert (refusal.status, refusal.reason) == (409, "评价期已于 2026-03-02 10:00 结束，不能再评价")


def test_a_rating_inside_the_window_or_before_its_end_is_known_is_accepted() -> None:
    assert admit(case(受理=opened(0, window_ends_at=T0 + timedelta(days=7))), attempt(), POLICY) == "受理"
    assert admit(case(受理=opened(0)), attempt(), POLICY) == "受理"  # timing has not answered yet


def test_after_a_default_rating_the_rater_hears_the_window_is_over() -> None:
    defaulted = case(受理=opened(0, first_id="d1", first_at=T0, first_default=True))
    refusal = refused(defaulted, attempt())
    assert (refusal.status, refusal.reason) == (409, "评价期已结束，系统已默认评价为“满意”，不能再评价")


def test_a_follow_up_rating_needs_a_first_and_comes_only_once() -> None:
    assert refused(case(受理=opened(0)), attempt(kind="追评")).reason == "办件 C1 的“受理”服务尚未评价，不能追评"
    assert admit(case(受理=opened(0, first_id="r1", first_at=T0)), attempt(kind="追评"), POLICY) == "受理"
    twice = case(受理=opened(0, first_id="r1", first_at=T0, second_id="r2"))
    refusal = refused(twice, attempt(kind="追评"))
    assert (refusal.status, refusal.reason) == (409, "办件 C1 的“受理”服务已追评，每项服务只能追评一次")


def test_a_follow_up_may_come_after_a_default_rating() -> None:
    defaulted = case(受理=opened(0, first_id="d1", first_at=T0, first_default=True))
    assert admit(defaulted, attempt(kind="追评"), POLICY) == "受理"


def test_a_pad_rates_only_what_its_windows_clerk_served() -> None:
    served_by_zhang = case(受理=opened(0, clerk="clerk-zhang"))
    assert admit(served_by_zhang, attempt(PAD, "评价器"), POLICY) == "受理"
    served_by_wang = case(受理=opened(0, clerk="clerk-wang"))
    refusal = refused(served_by_wang, attempt(PAD, "评价器"))
    assert (refusal.status, refusal.reason) == (403, "评价器 pad-01 所在窗口没有办理办件 C1 的这项服务，不能评价")
    assert refused(served_by_zhang, attempt(OTHER_PAD, "评价器")).status == 403


def test_a_clerk_may_not_rate_on_the_applicants_behalf() -> None:
    refusal = refused(case(受理=opened(0)), attempt(CLERK, "自助终端"))
    assert refusal.status == 403
    assert "不能以“自助终端”渠道代替办事群众评价" in refusal.reason
    assert refused(case(受理=opened(0)), attempt(CLERK, "电话")).status == 403
    assert admit(case(受理=opened(0)), attempt(OPERATOR, "电话"), POLICY) == "受理"  # 12345 records a call


def test_link_channels_need_a_token_and_the_system_channel_is_the_systems() -> None:
    assert refused(case(受理=opened(0)), attempt(KIOSK, "短信")).reason == "通过短信评价须使用评价链接（评价码）"
    assert refused(case(受理=opened(0)), attempt(KIOSK, "系统默认")).status == 422


def claims(case_no: str = "C1", stage: str = "受理", purpose: str = "评价") -> Claims:
    return msgspec.convert(
        {"case_no": case_no, "stage": stage, "purpose": purpose, "channel": "短信", "nonce": "n1"}, Claims
    )


def test_a_token_binds_its_case_stage_and_purpose() -> None:
    both = case(受理=opened(0), 办结=opened(2, clerk="clerk-wang"))
    assert admit(both, attempt(claims=claims(stage="受理"), channel="短信"), POLICY) == "受理"
    assert refused(both, attempt(claims=claims(case_no="C2"), channel="短信")).reason == "该评价码不属于办件 C1"
    wrong_stage = attempt(claims=claims(stage="受理"), stage="办结", channel="短信")
    assert refused(both, wrong_stage).reason == "该评价码只能评价“受理”服务"
    refusal = refused(both, attempt(claims=claims(purpose="整改评价"), channel="短信"))
    assert (refusal.status, refusal.reason) == (403, "该评价码用于整改评价，不能用于首评")


def test_indicators_follow_the_channel_type() -> None:
    window = indicators_of({"服务态度": "非常满意", "服务效率": "满意"}, "评价器", POLICY)
    assert window == {"服务态度": "非常满意", "服务效率": "满意"}
    assert indicators_of({"平台操作性": "基本满意"}, "PC", POLICY) == {"平台操作性": "基本满意"}
    with pytest.raises(Refusal, match="指标“平台操作性”不适用于评价器评价；可评：服务效率、服务水平、服务态度"):
        indicators_of({"平台操作性": "满意"}, "评价器", POLICY)
    with pytest.raises(Refusal, match="指标“服务态度”：评价等级“好”无效"):
        indicators_of({"服务态度": "好"}, "评价器", POLICY)


def test_a_level_comes_by_name_or_by_code_in_a_named_table() -> None:
    assert level_of("满意", 0, "").value == "满意"
    assert level_of("", 5, "评价接口").value == "非常满意"
    assert level_of("", 5, "GB/T 39046").value == "非常不满意"
    with pytest.raises(Refusal, match="code_table"):
        level_of("", 5, "")
    with pytest.raises(Refusal, match="应为 1–5"):
        level_of("", 9, "评价接口")


def test_the_countys_rules_load_from_the_data_file() -> None:
    assert POLICY.window.limit.value == 5
    assert POLICY.window.limit.unit == "WD"
    assert POLICY.default_level.value == "满意"
    assert POLICY.follow_up.correction_limit.value == 15
    assert POLICY.pads["pad-01"] == "clerk-zhang"
    assert POLICY.indicators_for("移动端") == ["办事效率", "办事指南准确度", "便捷度", "平台操作性"]


def test_a_bad_default_level_is_refused_at_start(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[2] / "data" / "evaluation.toml").read_text(encoding="utf-8")
    bad = tmp_path / "evaluation.toml"
    bad.write_text(text.replace('default_level = "满意"', 'default_level = "不满意"'), encoding="utf-8")
    with pytest.raises(ValueError, match="default_level 不能是差评：不满意"):
        load_policy(bad)
    missing = tmp_path / "missing.toml"
    missing.write_text(text.replace('"电话" = "window"\n', ""), encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[channel_types\].*不符：电话"):
        load_policy(missing)


def test_at_the_kiosk_the_id_numbers_last_digits_must_be_the_applicants() -> None:
    assert admit(case(受理=opened(0)), attempt(applicant_id_tail="011234"), POLICY) == "受理"
    refusal = refused(case(受理=opened(0)), attempt(applicant_id_tail="999999"))
    assert (refusal.status, refusal.reason) == (403, "证件号码后几位与办件 C1 的申请人不符，不能评价")
    assert refused(case(受理=opened(0)), attempt(applicant_id_tail="34")).status == 403


def test_a_kiosk_rating_needs_the_applicants_id_tail() -> None:
    refusal = refused(case(受理=opened(0)), attempt(applicant_id_tail=""))
    assert refusal.status == 403
    assert "证件号码后六位" in refusal.reason
    wrong = refused(case(受理=opened(0)), attempt(applicant_id_tail="999999"))
    assert "不符" in wrong.reason
