"""shared/assessment.py: the one assessment of an application's materials, for intake and for the desk (pure)."""

from __future__ import annotations

import msgspec

from shared.assessment import (
    AGENT_LETTER,
    MISSING,
    MISSING_DEFERRABLE,
    Lacking,
    allows_commitment,
    assess,
    commitment_problem,
    unknown_materials,
    unknown_problem,
    with_agent,
)
from shared.catalogue import FormMaterial, load_catalogue

CATALOGUE = load_catalogue()
QUALIFICATION = "11150525000120006"  # 建设工程企业资质: M03, M04 可容缺; M05 可告知承诺
SEAL = "11150525000118001"  # 查封登记: M01, M02, no 委托书 of its own
GAS = "11150525000120002"  # 用气报装: no 告知承诺
BUSINESS = "11150525YJS0001"  # 企业开办


def form_of(code: str) -> list[FormMaterial]:
    offering = CATALOGUE.offering(code)
    assert offering is not None
    return CATALOGUE.form(offering)


def line(code: str, **flags: bool) -> FormMaterial:
    base = {"required": True, "deferrable": False, "commitment": False, "reusable": False}
    return FormMaterial(code=code, name=f"材料{code}", originals=1, copies=0, parts=[], **{**base, **flags})


def test_only_deferrable_missing_is_deferrable_and_signing_makes_it_acceptable() -> None:
    form = form_of(QUALIFICATION)
    unsigned = assess(form, ["M01", "M02", "M05"], {})
    assert (unsigned.acceptable, unsigned.deferrable) == (False, True)
    assert {m.reason for m in unsigned.missing} == {MISSING_DEFERRABLE}
    signed = assess(form, ["M01", "M02", "M05"], {}, deferral_signed=True)
    assert (signed.acceptable, signed.deferrable) == (True, False)
    assert [m.code for m in signed.owed] == ["M03", "M04"]


def test_a_missing_material_that_is_not_deferrable_keeps_it_from_being_deferrable() -> None:
    form = [line("A"), line("B", deferrable=True)]
    checked = assess(form, [], {}, deferral_signed=True)
    assert checked.missing == [Lacking("A", "材料A", MISSING), Lacking("B", "材料B", MISSING_DEFERRABLE)]
    assert (checked.acceptable, checked.deferrable, checked.owed) == (False, False, [])


def test_a_reusable_material_on_file_is_reused_not_missing() -> None:
    checked = assess([line("A", reusable=True), line("B")], ["B"], {"材料A": "15052520260105000007"})
    assert checked.acceptable
    assert [(r.code, r.case_no) for r in checked.reused] == [("A", "15052520260105000007")]


def test_an_agent_makes_the_letter_required_added_or_tightened() -> None:
    added = with_agent(form_of(SEAL))
    assert [m.code for m in added] == ["M01", "M02", AGENT_LETTER.code]
    assert assess(added, ["M01", "M02"], {}).missing == [Lacking("WTS", "授权委托书", MISSING)]
    own = [line("A"), msgspec.structs.replace(line("L", deferrable=True, commitment=True), name="授权委托书")]
    tightened = with_agent(own)
    assert [(m.code, m.deferrable, m.commitment) for m in tightened] == [("A", False, False), ("L", False, False)]


def test_commitment_is_taken_only_where_the_item_or_a_part_allows_it() -> None:
    qualification, gas, business = (CATALOGUE.offering(c) for c in (QUALIFICATION, GAS, BUSINESS))
    assert qualification is not None
    assert gas is not None
    assert business is not None
    assert allows_commitment(CATALOGUE, qualification)
    assert not allows_commitment(CATALOGUE, gas)
    assert commitment_problem(CATALOGUE, gas, commitment_signed=False) is None
    assert (
        commitment_problem(CATALOGUE, gas, commitment_signed=True) == "“用气报装”未实行告知承诺制，请提交全部证明材料"
    )
    parts = [CATALOGUE.part_item(p).commitment for p in business.parts]  # type: ignore[union-attr]
    assert allows_commitment(CATALOGUE, business) is any(parts)


def test_unknown_codes_are_named() -> None:
    seal = CATALOGUE.offering(SEAL)
    assert seal is not None
    unknown = unknown_materials(form_of(SEAL), ["M01", "M09", "X"])
    assert unknown == ["M09", "X"]
    assert unknown_problem(seal, unknown) == "“查封登记”没有这些材料编码：M09、X"
    assert unknown_problem(seal, []) is None
