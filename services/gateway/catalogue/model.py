"""The gateway's read-only view of the service catalogue (``data/catalogue.toml``, owned by intake's operators).

Clerks and kiosks find an item or a 一件事 by name, code or keyword and see its form: the materials checklist as
intake checks it (a bundle asks for a shared material once, as ``<part key>.<code>``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import msgspec

DEFAULT_PATH = Path(__file__).resolve().parents[3] / "data" / "catalogue.toml"
ITEM_TYPES = {
    "01": "行政许可",
    "02": "行政处罚",
    "03": "行政强制",
    "04": "行政征收",
    "05": "行政给付",
    "06": "行政检查",
    "07": "行政确认",
    "08": "行政奖励",
    "09": "行政裁决",
    "10": "其他行政权力",
    "20": "公共服务",
}
LEVELS = {4: "旗县级", 5: "苏木乡镇级", 6: "嘎查村级"}
CASE_TYPES = {1: "即办件", 2: "承诺件"}
UNIT_NAMES = {"WD": "个工作日", "WH": "个工作小时", "ND": "个自然日", "NH": "个自然小时"}


class Limit(msgspec.Struct, frozen=True):
    value: float
    unit: str

    @property
    def text(self) -> str:
        if self.value == 0:
            return "即来即办"
        value = int(self.value) if float(self.value).is_integer() else self.value
        return f"{value}{UNIT_NAMES.get(self.unit, self.unit)}"


class Version(msgspec.Struct, frozen=True):
    effective: date
    statutory: Limit
    promised: Limit


class Material(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    required: bool
    deferrable: bool = False
    commitment: bool = False
    reusable: bool = False
    originals: int = 0
    copies: int = 0


class Item(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    basic_code: str
    name: str
    item_type: str
    legal_basis: str
    department: str
    level: int
    case_type: int
    scope: str
    versions: list[Version]
    materials: list[Material]
    conditions: str = ""
    co_departments: list[str] = []
    forms: list[str] = []
    special_procedures: list[str] = []
    commitment: bool = False
    keywords: list[str] = []


class Part(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    item: str
    stage: int = 1
    promised: Limit | None = None
    produced_within: list[str] = []


class Bundle(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    basic_code: str
    name: str
    lead_department: str
    legal_basis: str
    scope: str
    versions: list[Version]
    parts: list[Part]
    stages: list[str] = []
    keywords: list[str] = []


class Department(msgspec.Struct, frozen=True):
    name: str
    uscc: str


class _File(msgspec.Struct):
    departments: list[Department]
    items: list[Item]
    bundles: list[Bundle] = []


# ---------------------------------------------------------------- what the API shows


class FormLine(msgspec.Struct, frozen=True, kw_only=True):
    """One line of an application's materials checklist."""

    code: str
    name: str
    required: bool
    deferrable: bool
    commitment: bool
    reusable: bool
    originals: int
    copies: int
    parts: list[str]


class PartView(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    item_code: str
    item_name: str
    department: str
    stage: int
    stage_name: str
    promised_limit: Limit
    promised_text: str


class VersionView(msgspec.Struct, frozen=True, kw_only=True):
    effective: date
    statutory_limit: Limit
    promised_limit: Limit
    promised_text: str
    in_force: bool


class OfferingSummary(msgspec.Struct, frozen=True, kw_only=True):
    """A catalogue entry in a list: an item (事项) or a bundle (一件事)."""

    code: str
    basic_code: str
    kind: str  # 事项 / 一件事
    name: str
    department: str
    departments: list[str]
    item_type: str
    item_type_name: str
    level: int
    level_name: str
    case_type: int
    case_type_name: str
    scope: str
    promised_limit: Limit | None
    promised_text: str
    statutory_limit: Limit | None
    commitment: bool
    deferrable: bool


class OfferingDetail(OfferingSummary, frozen=True, kw_only=True):
    legal_basis: str
    conditions: str
    department_uscc: str
    co_departments: list[str]
    forms: list[str]
    special_procedures: list[str]
    version_effective: date | None
    versions: list[VersionView]
    materials: list[FormLine]
    parts: list[PartView]
    stages: list[str]
    keywords: list[str]


def _in_force(versions: list[Version], day: date) -> Version | None:
    in_force = [v for v in versions if v.effective <= day]
    return max(in_force, key=lambda v: v.effective) if in_force else None


def _line(m: Material, code: str, parts: list[str]) -> FormLine:
    return FormLine(
        code=code,
        name=m.name,
        required=m.required,
        deferrable=m.deferrable,
        commitment=m.commitment,
        reusable=m.reusable,
        originals=m.originals,
        copies=m.copies,
        parts=parts,
    )


def form_of(offering: Item | Bundle, items: dict[str, Item]) -> list[FormLine]:
    """The checklist, exactly as intake builds it (``tests/unit/test_intake_catalogue.py`` keeps them equal)."""
    if isinstance(offering, Item):
        return [_line(m, m.code, []) for m in offering.materials]
    lines: dict[str, FormLine] = {}
    for part in offering.parts:
        for m in items[part.item].materials:
            if m.code in part.produced_within:
                continue
            seen = lines.get(m.name)
            if seen is None:
                lines[m.name] = _line(m, f"{part.key}.{m.code}", [part.key])
            else:
                lines[m.name] = msgspec.structs.replace(
                    seen,
                    required=seen.required or m.required,
                    deferrable=seen.deferrable and m.deferrable,
                    commitment=seen.commitment and m.commitment,
                    reusable=seen.reusable and m.reusable,
                    originals=max(seen.originals, m.originals),
                    copies=max(seen.copies, m.copies),
                    parts=[*seen.parts, part.key],
                )
    return list(lines.values())


class Catalogue:
    def __init__(self, path: Path = DEFAULT_PATH) -> None:
        data = msgspec.toml.decode(path.read_bytes(), type=_File)
        self.items = {i.code: i for i in data.items}
        self.bundles = {b.code: b for b in data.bundles}
        self.departments = {d.name: d.uscc for d in data.departments}

    def entries(self) -> list[Item | Bundle]:
        """Bundles first (the 一件事 a clerk is most often asked for), then items, each in file order."""
        return [*self.bundles.values(), *self.items.values()]

    def find(self, code: str) -> Item | Bundle | None:
        return self.bundles.get(code) or self.items.get(code)

    def search(self, query: str, day: date) -> list[OfferingSummary]:
        """Entries whose code, name, department or keywords contain every word of ``query``; best first."""
        words = query.lower().split()
        found: list[tuple[int, int, OfferingSummary]] = []
        for order, entry in enumerate(self.entries()):
            summary = self.summary(entry, day)
            haystack = " ".join(
                [entry.code, entry.basic_code, entry.name, *summary.departments, *entry.keywords, summary.kind]
            ).lower()
            if all(w in haystack for w in words):
                exact = entry.code.lower() in words or entry.name.lower() == query.lower().strip()
                starts = any(entry.name.lower().startswith(w) or entry.code.startswith(w) for w in words)
                found.append((0 if exact else 1 if starts else 2, order, summary))
        return [summary for _, _, summary in sorted(found, key=lambda f: (f[0], f[1]))]

    def summary(self, entry: Item | Bundle, day: date) -> OfferingSummary:
        version = _in_force(entry.versions, day)
        if isinstance(entry, Item):
            department, departments = entry.department, [entry.department, *entry.co_departments]
            item_type, level, case_type = entry.item_type, entry.level, entry.case_type
            commitment = entry.commitment
            deferrable = any(m.deferrable for m in entry.materials)
        else:
            department = entry.lead_department
            departments = list(dict.fromkeys(self.items[p.item].department for p in entry.parts))
            item_type, level, case_type = "20", 4, 2
            commitment = any(self.items[p.item].commitment for p in entry.parts)
            deferrable = any(m.deferrable for p in entry.parts for m in self.items[p.item].materials)
        return OfferingSummary(
            code=entry.code,
            basic_code=entry.basic_code,
            kind="事项" if isinstance(entry, Item) else "一件事",
            name=entry.name,
            department=department,
            departments=departments,
            item_type=item_type,
            item_type_name="一件事" if isinstance(entry, Bundle) else ITEM_TYPES.get(item_type, item_type),
            level=level,
            level_name=LEVELS.get(level, str(level)),
            case_type=case_type,
            case_type_name=CASE_TYPES.get(case_type, str(case_type)),
            scope=entry.scope,
            promised_limit=version.promised if version else None,
            promised_text=version.promised.text if version else "尚未生效",
            statutory_limit=version.statutory if version else None,
            commitment=commitment,
            deferrable=deferrable,
        )

    def detail(self, entry: Item | Bundle, day: date) -> OfferingDetail:
        summary = self.summary(entry, day)
        version = _in_force(entry.versions, day)
        parts: list[PartView] = []
        if isinstance(entry, Bundle):
            for p in entry.parts:
                item = self.items[p.item]
                own = _in_force(item.versions, day) or item.versions[0]
                limit = p.promised or own.promised
                stage_name = entry.stages[p.stage - 1] if 0 < p.stage <= len(entry.stages) else ""
                parts.append(
                    PartView(
                        key=p.key,
                        item_code=item.code,
                        item_name=item.name,
                        department=item.department,
                        stage=p.stage,
                        stage_name=stage_name,
                        promised_limit=limit,
                        promised_text=limit.text,
                    )
                )
        versions = [
            VersionView(
                effective=v.effective,
                statutory_limit=v.statutory,
                promised_limit=v.promised,
                promised_text=v.promised.text,
                in_force=v is version,
            )
            for v in sorted(entry.versions, key=lambda v: v.effective)
        ]
        return OfferingDetail(
            **msgspec.structs.asdict(summary),
            legal_basis=entry.legal_basis,
            conditions=entry.conditions if isinstance(entry, Item) else "",
            department_uscc=self.departments.get(summary.department, ""),
            co_departments=entry.co_departments if isinstance(entry, Item) else [],
            forms=entry.forms if isinstance(entry, Item) else ["窗口"],
            special_procedures=entry.special_procedures if isinstance(entry, Item) else [],
            version_effective=version.effective if version else None,
            versions=versions,
            materials=form_of(entry, self.items),
            parts=parts,
            stages=entry.stages if isinstance(entry, Bundle) else [],
            keywords=entry.keywords,
        )
