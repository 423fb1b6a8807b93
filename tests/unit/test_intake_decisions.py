"""Intake's decisions, pure (services/intake/decisions.py), and its handler on a dict-backed Txn (tests/fakes.py):
what an application leads to, without Kafka or Redis."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from stdnum.cn import ric

from services.intake import decisions
from services.intake.app import PUBLISHES
from services.intake.credit import CreditList, Listing
from services.intake.handlers import Intake
from services.intake.messages import (
    Applicant,
    ApplicationOutcome,
    CaseAccepted,
    CaseRefused,
    CaseSuspended,
    ClockAlerted,
    ClockRequested,
    ClockWithdrawn,
    LimitOut,
    Material,
    MaterialsSupplemented,
    OneTimeNoticeIssued,
    ReusedMaterial,
    SubmitApplication,
    SupplementMaterials,
)
from services.intake.rules import MISSING_DEFERRABLE, assess
from shared import topics
from shared.catalogue import Bundle, FormMaterial, Limit, load_catalogue
from shared.contracts import Publications
from shared.envelope import Actor, wrap
from shared.pii import for_settings
from shared.points import load_points
from shared.replies import Refusal
from shared.settings import load_settings
from tests.fakes import FakeTxn, MemoryStore

CATALOGUE = load_catalogue()
SEAL = "11150525000118001"  # 查封登记 (即办件): M01, M02
CORRECTION = "11150525000118003"  # 更正登记: M01, M02 申请人身份证明 (可复用), M03
QUALIFICATION = "11150525000120006"  # 建设工程企业资质: M03, M04 可容缺; M05 可告知承诺; promised 10 WD
BUSINESS = "11150525YJS0001"  # 企业开办: four parts
TEN_WD = Limit(10, "WD")
AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in the hall


def form(code: str) -> list[FormMaterial]:
    offering = CATALOGUE.offering(code)
    assert offering is not None
    return CATALOGUE.form(offering)


def decide(code: str, provided: list[str], **overrides: object) -> decisions.Decision:
    arguments: dict[str, object] = {
        "refusal": "",
        "form": form(code),
        "provided": provided,
        "on_file": {},
        "deferral_signed": False,
        "commitment_signed": False,
        "requested": None,
        "promised": TEN_WD,
    }
    return decisions.decide(**{**arguments, **overrides})  # type: ignore[arg-type]


# ---------------------------------------------------------------- the decision, pure


def test_a_refusal_wins_over_everything_else() -> None:
    found = decide(SEAL, [], refusal="不符合受理条件：非本辖区")
    assert found == decisions.Refused("不符合受理条件：非本辖区")


def test_anything_missing_is_told_at_once_and_a_complete_form_is_accepted() -> None:
    incomplete = decide(QUALIFICATION, ["M01", "M02", "M05"])
    assert isinstance(incomplete, decisions.Incomplete)
    assert [(m.code, m.reason) for m in incomplete.checked.missing] == [
        ("M03", MISSING_DEFERRABLE),
        ("M04", MISSING_DEFERRABLE),
    ]
    accepted = decide(QUALIFICATION, ["M01", "M02", "M03", "M04", "M05"])
    assert isinstance(accepted, decisions.Acceptable)
    assert accepted.checked.owed == []


def test_a_deferral_is_accepted_owing_unless_its_period_outlasts_the_promise() -> None:
    owing = decide(QUALIFICATION, ["M01", "M02", "M05"], deferral_signed=True, requested=Limit(5, "WD"))
    assert isinstance(owing, decisions.Acceptable)
    assert [m.code for m in owing.checked.owed] == ["M03", "M04"]
    with pytest.raises(Refusal) as too_long:
        decide(QUALIFICATION, ["M01", "M02", "M05"], deferral_signed=True, requested=Limit(11, "WD"))
    assert too_long.value.status == 422
    assert "补齐期限不得晚于承诺办结时间" in too_long.value.reason


def test_the_refusal_reason_is_the_clerks_or_the_credit_lists() -> None:
    listing = Listing(id_number="X", name="钱某", reason="虚假承诺", listed_on=date(2025, 6, 1))
    assert decisions.refusal_reason(" 非本辖区 ", commitment_signed=True, listing=listing) == "不符合受理条件：非本辖区"
    listed = decisions.refusal_reason("", commitment_signed=True, listing=listing)
    assert listed.startswith("申请人已列入告知承诺失信名单（虚假承诺，2025-06-01列入）")
    assert decisions.refusal_reason("", commitment_signed=False, listing=listing) == ""


def test_terms_of_a_deferral_and_of_a_complete_case() -> None:
    owing = assess(form(QUALIFICATION), ["M01", "M02", "M05"], {}, deferral_signed=True)
    terms = decisions.supplement_terms("N1", owing, None, TEN_WD)
    assert terms == decisions.Terms(
        owed=[Material("M03", owing.owed[0].name), Material("M04", owing.owed[1].name)],
        supplement=LimitOut(10, "WD"),
        clock_id="N1:补齐",
    )
    complete = assess(form(SEAL), ["M01", "M02"], {})
    assert decisions.supplement_terms("N2", complete, None, TEN_WD) == decisions.Terms(
        owed=[], supplement=None, clock_id=""
    )


def test_a_bundle_is_shaped_into_numbered_children_led_by_one_department() -> None:
    bundle = CATALOGUE.offering(BUSINESS)
    assert isinstance(bundle, Bundle)
    case = decisions.shape(CATALOGUE, bundle, "15052520260302000001", AT)
    assert [c.case_no for c in case.children] == [f"15052520260302000001-0{i}" for i in range(1, 5)]
    assert case.departments == ["市场监管局", "公安局", "税务局", "人社局"]
    assert (case.approving, case.level, case.case_type) == (bundle.lead_department, 4, 2)
    item = CATALOGUE.offering(SEAL)
    assert item is not None
    single = decisions.shape(CATALOGUE, item, "N", AT)
    assert (single.children, single.departments) == ([], [single.approving])


def test_received_and_kept_on_file() -> None:
    lines = form(CORRECTION)
    reused = [ReusedMaterial("M02", "申请人身份证明", "OLD")]
    assert [m.code for m in decisions.received(lines, ["M03", "M01"], reused)] == ["M01", "M03", "M02"]
    assert [m.code for m in decisions.kept_on_file(lines, ["M01", "M02", "M03"])] == ["M02"]


# ---------------------------------------------------------------- the handler on a fake Txn

SETTINGS = load_settings({})
PII = for_settings(SETTINGS)
CLERK = Actor(kind="clerk", id="clerk-zhang", name="张敏")


def an_id(serial: int) -> str:
    body = f"15052519900101{serial:03d}"
    return body + ric.calc_check_digit(body + "0")


def intake(tmp_path: Path) -> Intake:
    credit = tmp_path / "credit.toml"
    credit.write_text("entries = []\n", encoding="utf-8")
    return Intake(SETTINGS, CATALOGUE, load_points(), CreditList(credit, key=PII.id_hash))


def publications() -> Publications:
    declared = Publications(SETTINGS, "intake")
    declared.declare(topics.INTAKE_EVENTS, *PUBLISHES)
    return declared


async def submit(
    service: Intake, store: MemoryStore, code: str, materials: list[str], id_number: str, **more: object
) -> FakeTxn:
    applicant = Applicant(name="赵小红", id_type="居民身份证", id_number=PII.seal(id_number))
    command = SubmitApplication(item_code=code, applicant=applicant, materials=materials, **more)  # type: ignore[arg-type]
    env = wrap(command, case_id=f"case-{len(store.data)}-{id_number}", actor=CLERK, occurred_at=AT)
    txn = FakeTxn(store, env, publications())
    await service.submit_application(env, command, txn)
    txn.commit()
    return txn


async def test_an_accepted_application_publishes_the_case_and_answers_201(tmp_path: Path) -> None:
    service, store = intake(tmp_path), MemoryStore()
    txn = await submit(service, store, QUALIFICATION, ["M01", "M02", "M05"], an_id(1), deferral_signed=True)
    assert txn.reply is not None
    assert txn.reply.status == 201
    [accepted] = txn.payloads(CaseAccepted)
    assert accepted.case_no == "15052520260302000001"
    assert (accepted.deferred, [m.code for m in accepted.owed_materials]) == (True, ["M03", "M04"])
    [clock] = txn.payloads(ClockRequested)
    assert (clock.clock_id, clock.purpose, clock.limit) == (f"{accepted.case_no}:补齐", "补齐", LimitOut(10, "WD"))
    assert txn.body(ApplicationOutcome).case_no == accepted.case_no
    # The case's record is in the store: the next case of the day is numbered after it.
    second = await submit(service, store, SEAL, ["M01", "M02"], an_id(2))
    assert second.payloads(CaseAccepted)[0].case_no == "15052520260302000002"


async def test_a_reusable_material_kept_on_file_is_reused_by_the_next_case(tmp_path: Path) -> None:
    service, store, id_number = intake(tmp_path), MemoryStore(), an_id(3)
    first = await submit(service, store, CORRECTION, ["M01", "M02", "M03"], id_number)
    case_no = first.payloads(CaseAccepted)[0].case_no
    later = await submit(service, store, CORRECTION, ["M01", "M03"], id_number)
    [accepted] = later.payloads(CaseAccepted)
    assert accepted.reused_materials == [ReusedMaterial("M02", "申请人身份证明", case_no)]
    stranger = await submit(service, store, CORRECTION, ["M01", "M03"], an_id(4))
    assert stranger.reply is not None
    assert stranger.reply.status == 200
    assert [m.code for m in stranger.payloads(OneTimeNoticeIssued)[0].missing] == ["M02"]


async def test_a_refusal_and_a_bad_code_are_answered_with_their_reasons(tmp_path: Path) -> None:
    service, store = intake(tmp_path), MemoryStore()
    refused = await submit(service, store, SEAL, ["M01"], an_id(5), refusal_reason="非本辖区")
    assert refused.reply is not None
    assert (refused.reply.status, refused.reply.reason) == (422, "不符合受理条件：非本辖区")
    assert refused.payloads(CaseRefused)[0].reason == "不符合受理条件：非本辖区"
    unknown = await submit(service, store, SEAL, ["M09"], an_id(6))
    assert unknown.reply is not None
    assert (unknown.reply.status, unknown.reply.reason) == (422, "“查封登记”没有这些材料编码：M09")
    assert unknown.events == []
    assert unknown.writes == []


# ---------------------------------------------------------------- 补齐 and 中止


def test_supplementing_receives_what_is_owed_and_refuses_anything_else() -> None:
    owed = [Material("M03", "业绩证明"), Material("M04", "人员证明")]
    part = decisions.supplement("N", owed, ["M03"])
    assert (part.received, part.remaining, part.complete) == ([owed[0]], [owed[1]], False)
    assert decisions.supplement("N", owed, ["M04", "M03"]).complete
    refusals = {
        "stranger": (owed, ["M09"], False),
        "empty": (owed, [], False),
        "nothing owed": ([], ["M03"], False),
        "refused case": (owed, ["M03"], True),
    }
    found = {}
    for name, (owing, given, refused) in refusals.items():
        with pytest.raises(Refusal) as caught:
            decisions.supplement("N", owing, given, refused=refused)
        found[name] = (caught.value.status, caught.value.reason)
    assert found == {
        "stranger": (422, "这些材料不在办件 N 的待补齐清单中：M09（待补齐：M03 业绩证明、M04 人员证明）"),
        "empty": (422, "请至少提交一项待补齐的材料"),
        "nothing owed": (409, "办件 N 没有待补齐的材料"),
        "refused case": (409, "办件 N 已不予受理，无需补齐材料"),
    }
    reason, notice = decisions.suspension("N", owed)
    assert reason == "容缺材料逾期未补齐：业绩证明、人员证明"
    assert notice.startswith("您的办件 N 容缺受理的材料（业绩证明、人员证明）未在补齐期限内提交")


async def handle(store: MemoryStore, handler: Any, payload: Any, case_id: str, actor: Actor = CLERK) -> FakeTxn:
    env = wrap(payload, case_id=case_id, actor=actor, occurred_at=AT)
    txn = FakeTxn(store, env, publications())
    await handler(env, payload, txn)
    txn.commit()
    return txn


async def test_a_deferred_case_is_supplemented_in_parts_then_its_clock_withdrawn(tmp_path: Path) -> None:
    service, store = intake(tmp_path), MemoryStore()
    accepted = await submit(service, store, QUALIFICATION, ["M01", "M02", "M05"], an_id(7), deferral_signed=True)
    case_id, case_no = accepted.cause.case_id, accepted.payloads(CaseAccepted)[0].case_no
    part = await handle(store, service.supplement_materials, SupplementMaterials(materials=["M03"]), case_id)
    [first] = part.payloads(MaterialsSupplemented)
    assert ([m.code for m in first.materials], [m.code for m in first.remaining], first.complete) == (
        ["M03"],
        ["M04"],
        False,
    )
    assert part.payloads(ClockWithdrawn) == []
    stranger = await handle(store, service.supplement_materials, SupplementMaterials(materials=["M03"]), case_id)
    assert stranger.reply is not None
    assert stranger.reply.status == 422
    assert stranger.events == []
    rest = await handle(store, service.supplement_materials, SupplementMaterials(materials=["M04"]), case_id)
    assert rest.payloads(MaterialsSupplemented)[0].complete
    [withdrawn] = rest.payloads(ClockWithdrawn)
    assert (withdrawn.clock_id, withdrawn.case_no) == (f"{case_no}:补齐", case_no)
    again = await handle(store, service.supplement_materials, SupplementMaterials(materials=["M04"]), case_id)
    assert again.reply is not None
    assert (again.reply.status, again.reply.reason) == (409, f"办件 {case_no} 没有待补齐的材料")


async def test_an_overdue_supplement_suspends_the_case_once(tmp_path: Path) -> None:
    service, store = intake(tmp_path), MemoryStore()
    accepted = await submit(service, store, QUALIFICATION, ["M01", "M02", "M05"], an_id(8), deferral_signed=True)
    case_no = accepted.payloads(CaseAccepted)[0].case_no
    overdue = ClockAlerted(clock_id=f"{case_no}:补齐", purpose="补齐", level="逾期", fired_at=AT)
    timing = Actor(kind="system", id="timing", name="计时服务")
    first = await handle(store, service.clock_alerted, overdue, "timing", timing)
    [suspended] = first.payloads(CaseSuspended)
    assert (suspended.case_no, [m.code for m in suspended.owed_materials]) == (case_no, ["M03", "M04"])
    assert first.events[0].case_id == accepted.cause.case_id  # on the case, though timing's event was not
    second = await handle(store, service.clock_alerted, overdue, "timing", timing)
    assert second.events == []
    warning = ClockAlerted(clock_id=f"{case_no}:补齐", purpose="补齐", level="预警", fired_at=AT)
    assert (await handle(store, service.clock_alerted, warning, "timing", timing)).events == []
