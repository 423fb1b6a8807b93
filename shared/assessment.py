"""The assessment of an application's materials against its catalogue form, pure: what is missing (一次告知),
owed (容缺), reused (材料复用) or stood in for by a signed 告知承诺书.

One implementation for intake, which decides on it, and for the gateway, whose desk checks the clerk's ticks live
(``POST /api/catalogue/{code}/assessment``) before the application is submitted.
"""

from __future__ import annotations

import msgspec

from shared.catalogue import Catalogue, FormMaterial, Item, Offering

MISSING = "必备材料未提交"
MISSING_DEFERRABLE = "必备材料未提交（可容缺：申请人签署容缺承诺书后可先行受理，限期补齐）"
MISSING_COMMITMENT = "必备材料未提交（可由申请人签署告知承诺书替代）"

# 代理人: the 授权委托书 an agent brings, required once an agent is named (an item's own 委托书 line, made required,
# or this line added to its form).
AGENT_LETTER = FormMaterial(
    code="WTS",
    name="授权委托书",
    required=True,
    deferrable=False,
    commitment=False,
    reusable=False,
    originals=1,
    copies=0,
    parts=[],
)


class Lacking(msgspec.Struct, frozen=True):
    """A required material not provided, and why it is asked for (one line of the 一次性告知书)."""

    code: str
    name: str
    reason: str


class Reused(msgspec.Struct, frozen=True):
    """材料复用: counted as provided because it is on file from an earlier case (``case_no``)."""

    code: str
    name: str
    case_no: str


class Assessment(msgspec.Struct, frozen=True, kw_only=True):
    """What an application's materials come to against its form."""

    missing: list[Lacking]  # empty: the application may be accepted
    owed: list[FormMaterial]  # 容缺 materials the accepted case owes
    reused: list[Reused]  # on file from earlier cases, not asked for again
    by_commitment: list[FormMaterial]  # stood in for by the signed 告知承诺书

    @property
    def acceptable(self) -> bool:
        return not self.missing

    @property
    def deferrable(self) -> bool:
        """Only 容缺 materials are missing: a signed 容缺承诺书 would let the application be accepted."""
        return bool(self.missing) and all(m.reason == MISSING_DEFERRABLE for m in self.missing)


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
    missing: list[Lacking] = []
    deferrable: list[FormMaterial] = []
    reused: list[Reused] = []
    by_commitment: list[FormMaterial] = []
    for m in form:
        if not m.required or m.code in have:
            continue
        if m.reusable and m.name in on_file:
            reused.append(Reused(m.code, m.name, on_file[m.name]))
        elif m.commitment and commitment_signed:
            by_commitment.append(m)
        elif m.deferrable:
            deferrable.append(m)
        else:
            missing.append(Lacking(m.code, m.name, MISSING_COMMITMENT if m.commitment else MISSING))
    if deferrable and (missing or not deferral_signed):
        missing += [Lacking(m.code, m.name, MISSING_DEFERRABLE) for m in deferrable]
        order = [m.code for m in form]
        missing.sort(key=lambda lack: order.index(lack.code))
        deferrable = []
    return Assessment(missing=missing, owed=deferrable, reused=reused, by_commitment=by_commitment)


def unknown_materials(form: list[FormMaterial], provided: list[str]) -> list[str]:
    """The provided codes the form does not list."""
    known = {m.code for m in form}
    return [code for code in provided if code not in known]


def with_agent(form: list[FormMaterial]) -> list[FormMaterial]:
    """The form when an agent (代理人) applies: the 授权委托书 required, added when the item does not list it."""
    if not any(m.name == AGENT_LETTER.name for m in form):
        return [*form, AGENT_LETTER]
    strict = {"required": True, "deferrable": False, "commitment": False}
    return [msgspec.structs.replace(m, **strict) if m.name == AGENT_LETTER.name else m for m in form]


def allows_commitment(catalogue: Catalogue, offering: Offering) -> bool:
    """告知承诺制: the item allows it, or (a bundle) one of its parts does."""
    if isinstance(offering, Item):
        return offering.commitment
    return any(catalogue.part_item(p).commitment for p in offering.parts)


def commitment_problem(catalogue: Catalogue, offering: Offering, commitment_signed: bool) -> str | None:
    """Why a signed 告知承诺书 cannot be taken for this offering, or None."""
    if commitment_signed and not allows_commitment(catalogue, offering):
        return f"“{offering.name}”未实行告知承诺制，请提交全部证明材料"
    return None


def unknown_problem(offering: Offering, unknown: list[str]) -> str | None:
    """Why provided codes the form does not list are refused, or None."""
    return f"“{offering.name}”没有这些材料编码：{'、'.join(unknown)}" if unknown else None
