"""The gateway's view of the service catalogue (``data/catalogue.toml``, owned by intake's operators).

Clerks and kiosks find an item or a 一件事 by name, code or keyword and see its form: the materials checklist
intake checks (``shared.catalogue``; a bundle asks for a shared material once, as ``<part key>.<code>``).
"""

from __future__ import annotations

from datetime import date

import msgspec

from shared.catalogue import (
    CASE_TYPES,
    ITEM_TYPES,
    LEVELS,
    Bundle,
    FormMaterial,
    Item,
    Limit,
    in_force,
    load_catalogue,
)
from shared.catalogue import Catalogue as Source


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
    materials: list[FormMaterial]
    parts: list[PartView]
    stages: list[str]
    keywords: list[str]


class Catalogue:
    """Search and details over the catalogue intake checks against."""

    def __init__(self, source: Source | None = None) -> None:
        self.source = source or load_catalogue()
        self.items = {i.code: i for i in self.source.items}
        self.bundles = {b.code: b for b in self.source.bundles}

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
        version = in_force(entry.versions, day)
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
        version = in_force(entry.versions, day)
        parts: list[PartView] = []
        if isinstance(entry, Bundle):
            for p in entry.parts:
                item = self.items[p.item]
                own = in_force(item.versions, day) or item.versions[0]
                limit = p.promised or own.promised
                stage_name = entry.stage_name(p.stage)
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
            department_uscc=self.source.uscc(summary.department),
            co_departments=entry.co_departments if isinstance(entry, Item) else [],
            forms=list(entry.forms) if isinstance(entry, Item) else ["窗口"],
            special_procedures=list(entry.special_procedures) if isinstance(entry, Item) else [],
            version_effective=version.effective if version else None,
            versions=versions,
            materials=self.source.form(entry),
            parts=parts,
            stages=entry.stages if isinstance(entry, Bundle) else [],
            keywords=entry.keywords,
        )
