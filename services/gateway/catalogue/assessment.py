"""The desk's live checklist: the clerk's ticks assessed by the very rules intake accepts on (``shared.assessment``).

Only the applicant's documents on file (材料复用) are not counted here: intake reads them when the application is
submitted, so the answer may ask for a reusable material intake will find on file.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from services.gateway.context import In
from shared.assessment import (
    assess,
    commitment_problem,
    unknown_materials,
    unknown_problem,
    with_agent,
)
from shared.catalogue import Catalogue, FormMaterial, Offering

MOST_MATERIALS = 200


class AssessmentIn(In, frozen=True, forbid_unknown_fields=True):
    """The materials part of the application the desk is filling in (the fields of ``POST /api/cases``)."""

    materials: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=64)]],
        msgspec.Meta(max_length=MOST_MATERIALS, description="已勾选收取的材料编码（同 POST /api/cases 的 materials）"),
    ] = msgspec.field(default_factory=list)
    deferral_signed: Annotated[bool, msgspec.Meta(description="申请人已签署容缺承诺书")] = False
    commitment_signed: Annotated[bool, msgspec.Meta(description="申请人已签署告知承诺书")] = False
    with_agent: Annotated[bool, msgspec.Meta(description="由代理人办理：授权委托书为必备材料")] = False


class MaterialLine(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str


class MissingLine(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    reason: str
    deferrable: bool  # 可容缺: a signed 容缺承诺书 would let the case be accepted without it for now


class AssessmentOut(msgspec.Struct, frozen=True, kw_only=True):
    item_code: str
    item_name: str
    acceptable: bool  # nothing missing: the application can be accepted as it stands
    deferrable: bool  # only 容缺 materials are missing: acceptable once the 容缺承诺书 is signed
    missing: list[MissingLine]  # 一次告知: everything missing, in the form's order
    owed: list[MaterialLine]  # 容缺受理: to be handed in within the 补齐 period
    by_commitment: list[MaterialLine]  # stood in for by the signed 告知承诺书
    summary: str  # the checklist's line for people (zh-CN)
    form: list[FormMaterial]  # the checklist assessed: the item's, with the 授权委托书 required when an agent applies


class BadAssessment(Exception):
    """The body names materials the form does not have, or a 告知承诺书 the item does not take (422)."""


def assessment(catalogue: Catalogue, offering: Offering, body: AssessmentIn) -> AssessmentOut:
    form = catalogue.form(offering)
    if body.with_agent:
        form = with_agent(form)
    problem = unknown_problem(offering, unknown_materials(form, body.materials))
    problem = problem or commitment_problem(catalogue, offering, body.commitment_signed)
    if problem:
        raise BadAssessment(problem)
    found = assess(
        form, body.materials, {}, deferral_signed=body.deferral_signed, commitment_signed=body.commitment_signed
    )
    deferrable_codes = {m.code for m in form if m.deferrable}
    missing = [
        MissingLine(code=m.code, name=m.name, reason=m.reason, deferrable=m.code in deferrable_codes)
        for m in found.missing
    ]
    owed = [MaterialLine(code=m.code, name=m.name) for m in found.owed]
    return AssessmentOut(
        item_code=offering.code,
        item_name=offering.name,
        acceptable=found.acceptable,
        deferrable=found.deferrable,
        missing=missing,
        owed=owed,
        by_commitment=[MaterialLine(code=m.code, name=m.name) for m in found.by_commitment],
        summary=_summary(missing, owed, deferrable=found.deferrable),
        form=form,
    )


def _summary(missing: list[MissingLine], owed: list[MaterialLine], *, deferrable: bool) -> str:
    if missing:
        names = "、".join(m.name + ("（可容缺）" if m.deferrable else "") for m in missing)
        text = f"尚缺 {len(missing)} 项：{names}"
        return text + "。仅缺可容缺材料：申请人签署容缺承诺书后可先行受理。" if deferrable else text
    if owed:
        return f"容缺受理：待补齐 {'、'.join(m.name for m in owed)}"
    return "材料齐全，可以受理。"
