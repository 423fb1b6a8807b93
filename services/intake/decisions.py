"""Intake's decisions on a window application, pure (no Redis, no Kafka, no numbering): 不予受理, 一次告知 or 受理,
and what an accepted case is (its children, departments, 容缺 terms and materials received).

The handler (services/intake/handlers.py) reads what they need (the applicant's documents on file, the credit
list), numbers the case and turns these answers into records and events.
"""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from services.intake.credit import Listing
from services.intake.messages import ChildCase, LimitOut, Material, ReusedMaterial
from services.intake.rules import Assessment, assess, child_number, supplement_problem
from shared.catalogue import Bundle, Catalogue, FormMaterial, Item, Limit, Offering
from shared.replies import Refusal

SUPPLEMENT = "补齐"


class Refused(msgspec.Struct, frozen=True):
    """不予受理, with the reason the notice gives."""

    reason: str


class Incomplete(msgspec.Struct, frozen=True):
    """一次告知: everything missing, at once."""

    checked: Assessment


class Acceptable(msgspec.Struct, frozen=True):
    """受理 (容缺 when ``checked.owed``)."""

    checked: Assessment


Decision = Refused | Incomplete | Acceptable


def limit_out(limit: Limit) -> LimitOut:
    return LimitOut(limit.value, limit.unit)


def refusal_reason(clerk_reason: str, *, commitment_signed: bool, listing: Listing | None) -> str:
    """The reason for 不予受理, or "": the clerk's finding, or an applicant on the 告知承诺 失信 list."""
    if clerk_reason.strip():
        return f"不符合受理条件：{clerk_reason.strip()}"
    if commitment_signed and listing is not None:
        return (
            f"申请人已列入告知承诺失信名单（{listing.reason}，{listing.listed_on:%Y-%m-%d}列入），"
            "信用修复前不适用告知承诺制；可提交全部证明材料后重新申请"
        )
    return ""


def decide(
    *,
    refusal: str,
    form: list[FormMaterial],
    provided: list[str],
    on_file: dict[str, str],
    deferral_signed: bool,
    commitment_signed: bool,
    requested: Limit | None,
    promised: Limit,
) -> Decision:
    """What the application leads to; :class:`Refusal` (422) for a 补齐 period the case cannot be given."""
    if refusal:
        return Refused(refusal)
    checked = assess(form, provided, on_file, deferral_signed=deferral_signed, commitment_signed=commitment_signed)
    if checked.missing:
        return Incomplete(checked)
    if checked.owed and (reason := supplement_problem(requested, promised)):
        raise Refusal(422, reason)
    return Acceptable(checked)


class Terms(msgspec.Struct, frozen=True, kw_only=True):
    """容缺受理's terms: what is owed, within which 补齐 period, on which clock ("" / None when nothing is owed)."""

    owed: list[Material]
    supplement: LimitOut | None
    clock_id: str


def supplement_terms(case_no: str, checked: Assessment, requested: Limit | None, promised: Limit) -> Terms:
    owed = [Material(m.code, m.name) for m in checked.owed]
    if not owed:
        return Terms(owed=[], supplement=None, clock_id="")
    return Terms(owed=owed, supplement=limit_out(requested or promised), clock_id=f"{case_no}:{SUPPLEMENT}")


class Shape(msgspec.Struct, frozen=True, kw_only=True):
    """Who decides an accepted case and how: an item's own, or a 一件事's children (子件) led by one department."""

    children: list[ChildCase]
    departments: list[str]
    approving: str
    level: int
    co_departments: list[str]
    case_type: int
    special_procedures: list[str]
    countersign: bool


def children(catalogue: Catalogue, bundle: Bundle, case_no: str, day: date) -> list[ChildCase]:
    """A 一件事's 子件, numbered after the parent, each with the limits of its item's version in force."""
    found = []
    for index, part in enumerate(bundle.parts, start=1):
        item = catalogue.part_item(part)
        version = item.version_on(day) or item.versions[0]
        found.append(
            ChildCase(
                case_no=child_number(case_no, index),
                item_code=item.code,
                item_name=item.name,
                department=item.department,
                stage=part.stage,
                stage_name=bundle.stage_name(part.stage),
                promised_limit=limit_out(part.promised or version.promised),
                statutory_limit=limit_out(version.statutory),
                co_departments=item.co_departments,
                scope=item.scope,
                key=part.key,
                needs=list(part.needs),
            )
        )
    return found


def shape(catalogue: Catalogue, offering: Offering, case_no: str, accepted_at: datetime) -> Shape:
    if isinstance(offering, Item):
        return Shape(
            children=[],
            departments=[offering.department],
            approving=offering.department,
            level=offering.level,
            co_departments=offering.co_departments,
            case_type=offering.case_type,
            special_procedures=[str(p) for p in offering.special_procedures],
            countersign=offering.countersign,
        )
    kids = children(catalogue, offering, case_no, accepted_at.date())
    return Shape(
        children=kids,
        departments=list(dict.fromkeys(c.department for c in kids)),
        approving=offering.lead_department,
        level=4,
        co_departments=[],
        case_type=2,
        special_procedures=[],
        countersign=False,
    )


def received(form: list[FormMaterial], provided: list[str], reused: list[ReusedMaterial]) -> list[Material]:
    """The materials the case holds: those handed in, in the form's order, then those reused from earlier cases."""
    given = set(provided)
    return [*(Material(m.code, m.name) for m in form if m.code in given), *(Material(r.code, r.name) for r in reused)]


def kept_on_file(form: list[FormMaterial], provided: list[str]) -> list[FormMaterial]:
    """材料复用: the reusable materials handed in, kept on file for the applicant's later cases."""
    given = set(provided)
    return [m for m in form if m.reusable and m.code in given]


# ---------------------------------------------------------------------------------------------- 补齐 and 中止


class Supplemented(msgspec.Struct, frozen=True, kw_only=True):
    """补齐: what was handed in, what is still owed; ``complete`` ends the 补齐 clock (and a 中止)."""

    received: list[Material]
    remaining: list[Material]

    @property
    def complete(self) -> bool:
        return not self.remaining


def supplement(case_no: str, owed: list[Material], materials: list[str], *, refused: bool = False) -> Supplemented:
    """Materials handed in for an accepted 容缺 case; :class:`Refusal` (409/422) with the reason otherwise."""
    if refused:
        raise Refusal(409, f"办件 {case_no} 已不予受理，无需补齐材料")
    if not owed:
        raise Refusal(409, f"办件 {case_no} 没有待补齐的材料")
    if not materials:
        raise Refusal(422, "请至少提交一项待补齐的材料")
    codes = {m.code for m in owed}
    strangers = [code for code in materials if code not in codes]
    if strangers:
        listed = "、".join(f"{m.code} {m.name}" for m in owed)
        raise Refusal(422, f"这些材料不在办件 {case_no} 的待补齐清单中：{'、'.join(strangers)}（待补齐：{listed}）")
    given = set(materials)
    return Supplemented(
        received=[m for m in owed if m.code in given], remaining=[m for m in owed if m.code not in given]
    )


def suspension(case_no: str, owed: list[Material]) -> tuple[str, str]:
    """中止 for 容缺 materials not handed in within the 补齐 period: the reason, and the notice to the applicant."""
    names = "、".join(m.name for m in owed)
    notice = (
        f"您的办件 {case_no} 容缺受理的材料（{names}）未在补齐期限内提交，办件已中止办理。"
        "请尽快到受理窗口或自助终端补齐，补齐后恢复办理。"
    )
    return f"容缺材料逾期未补齐：{names}", notice
