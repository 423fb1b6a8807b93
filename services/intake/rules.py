"""Acceptance rules, pure: what is missing (一次告知), owed (容缺) or reused, the 补齐 period, case numbers."""

from __future__ import annotations

from datetime import datetime

import msgspec

from services.intake.messages import MissingMaterial, ReusedMaterial
from shared.catalogue import UNITS, FormMaterial, Limit

MISSING = "必备材料未提交"
MISSING_DEFERRABLE = "必备材料未提交（可容缺：申请人签署容缺承诺书后可先行受理，限期补齐）"
MISSING_COMMITMENT = "必备材料未提交（可由申请人签署告知承诺书替代）"


class Assessment(msgspec.Struct, frozen=True, kw_only=True):
    """What an application's materials come to against its form."""

    missing: list[MissingMaterial]  # empty: the application may be accepted
    owed: list[FormMaterial]  # 容缺 materials the accepted case owes
    reused: list[ReusedMaterial]  # on file from earlier cases, not asked for again
    by_commitment: list[FormMaterial]  # stood in for by the signed 告知承诺书


def assess(
    form: list[FormMaterial],
    provided: list[str],
    on_file: dict[str, str],
    *,
    deferral_signed: bool = False,
    commitment_signed: bool = False,
) -> Assessment:
    """Check ``provided`` codes against ``form``; ``on_file`` maps material names to the case that holds them.

    Every missing material is named at once. 容缺 materials are owed instead of missing when the applicant signed
    the 容缺承诺书 and nothing else is missing; a signed 告知承诺书 stands in for the materials that allow it.
    """
    have = set(provided)
    missing: list[MissingMaterial] = []
    deferrable: list[FormMaterial] = []
    reused: list[ReusedMaterial] = []
    by_commitment: list[FormMaterial] = []
    for m in form:
        if not m.required or m.code in have:
            continue
        if m.reusable and m.name in on_file:
            reused.append(ReusedMaterial(m.code, m.name, on_file[m.name]))
        elif m.commitment and commitment_signed:
            by_commitment.append(m)
        elif m.deferrable:
            deferrable.append(m)
        else:
            missing.append(MissingMaterial(m.code, m.name, MISSING_COMMITMENT if m.commitment else MISSING))
    if deferrable and (missing or not deferral_signed):
        missing += [MissingMaterial(m.code, m.name, MISSING_DEFERRABLE) for m in deferrable]
        missing.sort(key=lambda mm: [m.code for m in form].index(mm.code))
        deferrable = []
    return Assessment(missing=missing, owed=deferrable, reused=reused, by_commitment=by_commitment)


def missing_materials(form: list[FormMaterial], provided: list[str]) -> list[MissingMaterial]:
    """Every required material not provided, all at once (一次告知), with nothing on file and nothing signed."""
    return assess(form, provided, {}).missing


def unknown_materials(form: list[FormMaterial], provided: list[str]) -> list[str]:
    known = {m.code for m in form}
    return [code for code in provided if code not in known]


def supplement_problem(requested: Limit | None, promised: Limit) -> str | None:
    """Why a 补齐 period cannot be granted: it may never end after the case's promised time."""
    if promised.value <= 0:
        return "即办件当场办结，不适用容缺受理"
    if requested is None:
        return None
    if requested.value <= 0:
        return "补齐期限必须大于0"
    if requested.unit != promised.unit:
        return f"补齐期限的单位须与承诺办结时限一致（{UNITS[promised.unit]}）"
    if requested.value > promised.value:
        return f"补齐期限{requested.text}超过承诺办结时限{promised.text}：补齐期限不得晚于承诺办结时间"
    return None


def case_number(region_code: str, accepted_at: datetime, sequence: int) -> str:
    """办件编号: region code + local date + six-digit daily sequence, e.g. 15052520261126000042."""
    return f"{region_code}{accepted_at:%Y%m%d}{sequence:06d}"


def child_number(parent: str, index: int) -> str:
    """子件编号: the parent's number and the child's place in the bundle, e.g. 15052520261126000042-03."""
    return f"{parent}-{index:02d}"
