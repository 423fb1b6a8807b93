"""不予受理 / 不予许可 notices cite the law of the item's type and offer the remedy the applicant really has."""

from __future__ import annotations

import pytest

from services.gateway.legal import NO_REVIEW, REVIEW, Act, legal_text
from shared.catalogue import load_catalogue

CATALOGUE = load_catalogue()


def first_of_type(item_type: str) -> str:
    return next(i.code for i in CATALOGUE.items if i.item_type == item_type)


def basis_of(code: str) -> str:
    item = CATALOGUE.get(code)
    assert item is not None
    return item.legal_basis


@pytest.mark.parametrize("act", ["不予受理", "不予许可"])
def test_a_public_service_offers_no_administrative_review(act: Act) -> None:
    code = first_of_type("20")
    text = legal_text(code, act)
    assert text.remedy == NO_REVIEW
    assert "复议" not in text.basis
    assert basis_of(code) in text.basis


def test_a_licence_cites_article_32_when_refused_at_the_window_and_38_on_its_merits() -> None:
    code = first_of_type("01")
    assert "第三十二条" in legal_text(code, "不予受理").basis
    assert "第三十八条第二款" in legal_text(code, "不予许可").basis
    assert legal_text(code, "不予许可").remedy == REVIEW
    assert legal_text(code, "不予许可").title == "不予行政许可决定书"


def test_another_administrative_act_cites_its_own_basis_with_review() -> None:
    code = first_of_type("07")
    text = legal_text(code, "不予受理")
    assert "行政许可法" not in text.basis
    assert basis_of(code) in text.basis
    assert text.remedy == REVIEW


def test_a_bundle_with_a_licence_in_it_offers_review() -> None:
    bundle = next(b for b in CATALOGUE.bundles if any(CATALOGUE.part_item(p).item_type == "01" for p in b.parts))
    assert legal_text(bundle.code, "不予许可").remedy == REVIEW


def test_an_unknown_code_keeps_the_wording_that_offers_review() -> None:
    assert legal_text("no-such-item", "不予受理").remedy == REVIEW
