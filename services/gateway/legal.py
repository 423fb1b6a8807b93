"""What a refusal notice cites and which remedy it offers, from the item's type and its own legal basis.

A 行政许可 refused at the window cites 行政许可法 §32, and one refused on its merits §38 (2), which also
requires telling the applicant of 复议 and 诉讼. Other administrative acts (事项类型 02–10) cite the item's own
legal basis and offer the same remedies (行政复议法 §20: sixty days; 行政诉讼法 §46: six months). A 公共服务
(20) is no administrative act: its notice cites the item's basis and 办事指南 and offers the hall's complaint
channels instead, never a 复议 the applicant does not have. A 一件事 offers review when any of its items is an
administrative act.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

import msgspec

from shared.catalogue import Bundle, Catalogue, Item, load_catalogue

Act = Literal["不予受理", "不予许可"]
PUBLIC_SERVICE = "20"
LICENCE = "01"

REVIEW = "如不服本决定，可以自收到本通知书之日起六十日内依法申请行政复议，或者六个月内依法提起行政诉讼。"
NO_REVIEW = (
    "本事项属于公共服务事项，不适用行政复议和行政诉讼；如有异议，可以向本大厅投诉窗口反映，"
    "或者拨打 12345 政务服务便民热线。"
)


class LegalText(msgspec.Struct, frozen=True):
    title: str  # the document's name
    basis: str  # the sentence that grounds the act, ending with the act itself
    remedy: str  # 复议/诉讼, or the complaint channels of a 公共服务


@cache
def _catalogue() -> Catalogue:
    return load_catalogue()


def _types(entry: Item | Bundle, catalogue: Catalogue) -> set[str]:
    if isinstance(entry, Item):
        return {entry.item_type}
    return {catalogue.part_item(part).item_type for part in entry.parts}


def legal_text(item_code: str, act: Act, catalogue: Catalogue | None = None) -> LegalText:
    """The wording for a refusal of ``item_code`` (an item's or a bundle's code); an unknown code (an item
    since removed from the catalogue) keeps the administrative-act wording, the applicant's safer side."""
    catalogue = catalogue or _catalogue()
    entry: Item | Bundle | None = catalogue.get(item_code) or catalogue.bundle(item_code)
    types = _types(entry, catalogue) if entry is not None else {LICENCE}
    basis_of_item = entry.legal_basis if entry is not None else ""
    title = "不予受理通知书" if act == "不予受理" else "不予行政许可决定书" if LICENCE in types else "不予办理决定书"
    if types == {PUBLIC_SERVICE}:
        verb = "不予受理" if act == "不予受理" else "不予办理"
        return LegalText(title, f"依据{basis_of_item}及本事项办事指南的规定，决定{verb}。", NO_REVIEW)
    if LICENCE in types:
        if act == "不予受理":
            return LegalText(title, "根据《中华人民共和国行政许可法》第三十二条的规定，决定不予受理。", REVIEW)
        return LegalText(title, "根据《中华人民共和国行政许可法》第三十八条第二款的规定，决定不予行政许可。", REVIEW)
    verb = "不予受理" if act == "不予受理" else "不予办理"
    return LegalText(title, f"根据{basis_of_item}的规定，决定{verb}。", REVIEW)
