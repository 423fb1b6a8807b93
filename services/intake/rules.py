"""Acceptance rules, pure: the materials' assessment (``shared.assessment``) in intake's structs, the 补齐 period,
case numbers."""

from __future__ import annotations

from datetime import datetime

import msgspec

from services.intake.messages import MissingMaterial, ReusedMaterial
from shared import assessment
from shared.assessment import MISSING, MISSING_COMMITMENT, MISSING_DEFERRABLE, unknown_materials
from shared.catalogue import UNITS, FormMaterial, Limit


class Assessment(msgspec.Struct, frozen=True, kw_only=True):
    """:class:`shared.assessment.Assessment` in the structs intake's events and replies carry."""

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
    """The shared assessment (the desk's live checklist asks the same one through the gateway)."""
    found = assessment.assess(
        form, provided, on_file, deferral_signed=deferral_signed, commitment_signed=commitment_signed
    )
    return Assessment(
        missing=[MissingMaterial(m.code, m.name, m.reason) for m in found.missing],
        owed=found.owed,
        reused=[ReusedMaterial(r.code, r.name, r.case_no) for r in found.reused],
        by_commitment=found.by_commitment,
    )


def missing_materials(form: list[FormMaterial], provided: list[str]) -> list[MissingMaterial]:
    """Every required material not provided, all at once (一次告知), with nothing on file and nothing signed."""
    return assess(form, provided, {}).missing


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


__all__ = [
    "MISSING",
    "MISSING_COMMITMENT",
    "MISSING_DEFERRABLE",
    "Assessment",
    "assess",
    "case_number",
    "child_number",
    "missing_materials",
    "supplement_problem",
    "unknown_materials",
]
