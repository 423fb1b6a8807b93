"""The service catalogue (事项目录), loaded from ``data/catalogue.toml``: items, 一件事 bundles, departments.

Intake checks applications against it and the gateway shows it to clerks: both read the file with this model,
so the desk's checklist is the very form intake checks.

Items and bundles are versioned by effective date; a case keeps the version in force on the day it was accepted.
A bundle's form is the union of its parts' materials (one form, 一次表单): a material of the same name is asked
for once, under the code ``<part key>.<material code>`` of the first part that needs it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

import msgspec

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "data" / "catalogue.toml"

Unit = Literal["WD", "WH", "ND", "NH"]
Scope = Literal["全国", "跨省", "跨市", "跨县", "本县"]
Form = Literal["窗口", "网办", "掌上", "自助"]
SpecialProcedure = Literal["听证", "招标", "拍卖", "检验", "检测", "检疫", "鉴定", "专家评审"]
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
UNITS = {"WD": "工作日", "WH": "工作小时", "ND": "自然日", "NH": "自然小时"}


def unit_name(unit: str) -> str:
    """``个工作日`` for WD; an unknown unit as it is."""
    return f"个{UNITS[unit]}" if unit in UNITS else unit


def limit_text(value: float, unit: str) -> str:
    """``5个工作日``, ``0.5个工作日``; a limit of 0 is ``即来即办`` (done on the spot)."""
    if value == 0:
        return "即来即办"
    shown = int(value) if float(value).is_integer() else value
    return f"{shown}{unit_name(unit)}"


class CatalogueError(Exception):
    """The catalogue file contradicts itself: the service refuses to start with it."""


class Limit(msgspec.Struct, frozen=True):
    value: float
    unit: Unit

    @property
    def text(self) -> str:
        return limit_text(self.value, self.unit)


class Material(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: str
    name: str
    required: bool
    deferrable: bool = False  # 容缺: required, but the case may be accepted and the material brought later
    commitment: bool = False  # 告知承诺: a signed commitment may stand in for it
    reusable: bool = False  # 材料复用: once on file for the applicant, never asked for again
    originals: int = 0
    copies: int = 0


class Version(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    effective: date
    statutory: Limit
    promised: Limit


class ExtensionCap(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """延长的上限: how many extensions a case of the item may have, each at most ``limit``, and on which law."""

    count: int = 1
    limit: Limit
    basis: str = ""


# 行政许可法第四十二条: one extension of at most 10 days, approved by the head of the agency.
LICENSING_CAP = ExtensionCap(count=1, limit=Limit(10, "WD"), basis="《中华人民共和国行政许可法》第四十二条")
# Items of other types whose catalogue entry names no cap: the same, as the hall's own rule.
DEFAULT_CAP = ExtensionCap(count=1, limit=Limit(10, "WD"), basis="本大厅延长审批期限规定（参照行政许可法第四十二条）")


# 退回补正期限 when an item's entry names none ([local] rule of the hall).
RETURN_LIMIT = Limit(15, "WD")
# 跨省通办: how long the hall has, after 受理, to check and send (push or post) a case to the competent
# jurisdiction when an item's entry names no ``handover_limit`` ([local] rule of the hall).
HANDOVER_LIMIT = Limit(1, "WD")


def in_force(versions: list[Version], day: date) -> Version | None:
    in_force = [v for v in versions if v.effective <= day]
    return max(in_force, key=lambda v: v.effective) if in_force else None


class Item(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: str  # 实施编码
    basic_code: str  # 基本编码
    name: str
    item_type: str
    legal_basis: str
    department: str
    level: Literal[4, 5, 6]
    case_type: Literal[1, 2]
    scope: Scope
    versions: list[Version]
    materials: list[Material]
    conditions: str = ""
    co_departments: list[str] = []
    forms: list[Form] = msgspec.field(default_factory=lambda: ["窗口"])
    special_procedures: list[SpecialProcedure] = []
    commitment: bool = False  # 告知承诺制 applies
    keywords: list[str] = []
    # 即办件 whose law lets one person do 承办, 审核 and 决定; otherwise three different people (岗位分离).
    one_person: bool = False
    extension_cap: ExtensionCap | None = None  # the item's own law's cap; None: the default for its type
    # 退回补正: how long the applicant has to bring what a step returned for; past it the case is 退件.
    return_limit: Limit = RETURN_LIMIT
    # 证照名称 of the licence a grant issues (营业执照 …); a 准予 决定 must then give its number. "" issues none.
    licence: str = ""
    # 会签: each of the co_departments gets a step in parallel with 承办/审核, all joined before 决定 (a single item;
    # a bundle child is handled by its own department only).
    countersign: bool = False
    # 跨省通办: the local part's limit (check, then push or post to the other jurisdiction); None: HANDOVER_LIMIT.
    handover_limit: Limit | None = None

    def version_on(self, day: date) -> Version | None:
        """The version in force on ``day``: the latest whose effective date is not after it."""
        return in_force(self.versions, day)

    @property
    def extension_rule(self) -> ExtensionCap:
        """The cap on extensions: the item's own, else 行政许可法 §42 for 行政许可, else the hall's default."""
        if self.extension_cap is not None:
            return self.extension_cap
        return LICENSING_CAP if self.item_type == "01" else DEFAULT_CAP


class Part(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    key: str
    item: str
    stage: int = 1
    promised: Limit | None = None  # the child's promised limit inside the bundle; the item's own when absent
    produced_within: list[str] = []  # materials another part of the bundle produces: not on the form
    # 前后置: the parts (keys) whose grant this part needs; it opens when they are all 准予, with their results,
    # and is closed 不予办理 when one of them is refused
    needs: list[str] = []


class Bundle(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """一件事: several items from several departments, one form and one submission."""

    code: str
    basic_code: str
    name: str
    lead_department: str
    legal_basis: str
    scope: Scope
    versions: list[Version]
    parts: list[Part]
    stages: list[str] = []
    keywords: list[str] = []

    def version_on(self, day: date) -> Version | None:
        return in_force(self.versions, day)

    def stage_name(self, stage: int) -> str:
        """The stage's name (工程建设: 用地规划许可 …); "" for a bundle whose children all run in parallel."""
        if not self.stages:
            return ""
        return self.stages[stage - 1] if 0 < stage <= len(self.stages) else f"第{stage}阶段"


class ProjectStage(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One stage of a 工程建设 project type: a bundle applied for on its own, and the licences of earlier stages
    it needs (材料复用: once an earlier stage of the same project issued them, they count as supplied)."""

    bundle: str
    reuses: list[str] = []


class ProjectType(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """工程建设项目类型 [local]: its stages in order and the approval budget they add up to (approval time only)."""

    code: str
    name: str
    budget: Limit
    stages: list[ProjectStage]
    description: str = ""


class Department(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    uscc: str  # 统一社会信用代码


class FormMaterial(msgspec.Struct, frozen=True, kw_only=True):
    """One line of an application form's checklist: a material as the applicant names it."""

    code: str
    name: str
    required: bool
    deferrable: bool
    commitment: bool
    reusable: bool
    originals: int
    copies: int
    parts: list[str]  # the bundle parts that need it (empty for a single item)


Offering = Item | Bundle


class _File(msgspec.Struct, forbid_unknown_fields=True):
    departments: list[Department]
    items: list[Item]
    bundles: list[Bundle] = []
    projects: list[ProjectType] = []  # 工程建设项目类型


def form_of(offering: Offering, items: dict[str, Item]) -> list[FormMaterial]:
    """The checklist an application for ``offering`` is checked against (一次表单 for a bundle)."""
    if isinstance(offering, Item):
        return [_line(m, m.code, []) for m in offering.materials]
    lines: dict[str, FormMaterial] = {}
    for part in offering.parts:
        for m in items[part.item].materials:
            if m.code in part.produced_within:
                continue
            seen = lines.get(m.name)
            if seen is None:
                lines[m.name] = _line(m, f"{part.key}.{m.code}", [part.key])
            else:  # asked once; the strictest reading of the duplicates wins
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


def _line(m: Material, code: str, parts: list[str]) -> FormMaterial:
    return FormMaterial(
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


class Catalogue:
    def __init__(
        self,
        items: list[Item],
        bundles: list[Bundle] | None = None,
        departments: list[Department] | None = None,
        projects: list[ProjectType] | None = None,
    ) -> None:
        self._items = {item.code: item for item in items}
        self.project_types = {p.code: p for p in projects or []}  # 工程建设项目类型 by code
        self._bundles = {bundle.code: bundle for bundle in bundles or []}
        self.departments = {d.name: d for d in departments or []}
        self._forms: dict[str, list[FormMaterial]] = {}

    def get(self, code: str) -> Item | None:
        return self._items.get(code)

    def bundle(self, code: str) -> Bundle | None:
        return self._bundles.get(code)

    def offering(self, code: str) -> Offering | None:
        """The item or bundle an application names."""
        return self._items.get(code) or self._bundles.get(code)

    def form(self, offering: Offering) -> list[FormMaterial]:
        form = self._forms.get(offering.code)
        if form is None:
            form = self._forms[offering.code] = form_of(offering, self._items)
        return form

    def part_item(self, part: Part) -> Item:
        return self._items[part.item]

    @property
    def items(self) -> list[Item]:
        return list(self._items.values())

    @property
    def bundles(self) -> list[Bundle]:
        return list(self._bundles.values())

    def project_stage(self, project_type: str, bundle_code: str) -> int:
        """The 1-based place of ``bundle_code`` among the stages of ``project_type``; 0 when it is none of them."""
        found = self.project_types.get(project_type)
        codes = [s.bundle for s in found.stages] if found else []
        return codes.index(bundle_code) + 1 if bundle_code in codes else 0

    def is_project_stage(self, bundle_code: str) -> bool:
        """Whether a bundle is a stage of some 工程建设 project type (applied for only with a project code)."""
        return any(s.bundle == bundle_code for p in self.project_types.values() for s in p.stages)

    def uscc(self, department: str) -> str:
        known = self.departments.get(department)
        return known.uscc if known else ""

    def handover_limit(self, code: str) -> Limit:
        """跨省通办: the time the hall has to send a case of ``code`` to the other jurisdiction."""
        item = self.get(code)
        return item.handover_limit if item is not None and item.handover_limit is not None else HANDOVER_LIMIT

    def __len__(self) -> int:
        return len(self._items)


def check(data: _File) -> None:
    """Refuse a catalogue that contradicts itself, naming the entry."""
    codes = [i.code for i in data.items] + [b.code for b in data.bundles]
    doubled = sorted({c for c in codes if codes.count(c) > 1})
    if doubled:
        raise CatalogueError(f"编码重复：{'、'.join(doubled)}")
    departments = {d.name for d in data.departments}
    items = {i.code: i for i in data.items}
    for item in data.items:
        _check_item(item, departments)
    for bundle in data.bundles:
        where = f"一件事 {bundle.code}（{bundle.name}）"
        if bundle.lead_department not in departments:
            raise CatalogueError(f"{where}：牵头部门“{bundle.lead_department}”不在 [[departments]] 中")
        for part in bundle.parts:
            if part.item not in items:
                raise CatalogueError(f"{where}：子项 {part.key} 的事项编码 {part.item} 不在目录中")
            if not set(part.produced_within) <= {m.code for m in items[part.item].materials}:
                raise CatalogueError(f"{where}：子项 {part.key} 的 produced_within 含有事项没有的材料")
        keys = [p.key for p in bundle.parts]
        if len(set(keys)) != len(keys):
            raise CatalogueError(f"{where}：子项键重复")
        _check_needs(bundle, where)
        _check_critical_path(bundle, items, where)


def _check_item(item: Item, departments: set[str]) -> None:
    where = f"事项 {item.code}（{item.name}）"
    if not 0 < len(item.code) <= 24 or not 0 < len(item.basic_code) <= 10:
        raise CatalogueError(f"{where}：实施编码不超过24位、基本编码不超过10位")
    if item.department not in departments:
        raise CatalogueError(f"{where}：实施主体“{item.department}”不在 [[departments]] 中")
    for co in item.co_departments:
        if co not in departments:
            raise CatalogueError(f"{where}：共同实施部门“{co}”不在 [[departments]] 中")
    if item.countersign and not item.co_departments:
        raise CatalogueError(f"{where}：会签（countersign）须列明共同实施部门 co_departments")
    if item.item_type not in ITEM_TYPES:
        raise CatalogueError(f"{where}：未知事项类型 {item.item_type}")
    if item.one_person and item.case_type != 1:
        raise CatalogueError(f"{where}：只有即办件可以由一人办理承办、审核、决定（one_person）")
    cap = item.extension_cap
    if cap is not None and (cap.count < 0 or not 0 <= cap.limit.value < 10_000):
        raise CatalogueError(f"{where}：延长上限 extension_cap 须为非负次数和 0 至 10000 之间的时限")
    if not 0 < item.return_limit.value < 10_000:
        raise CatalogueError(f"{where}：退回补正期限 return_limit 须为 0 至 10000 之间的正数时限")
    for m in item.materials:
        if m.deferrable and not m.required:
            raise CatalogueError(f"{where}：容缺材料“{m.name}”必须是必备材料")
        if m.commitment and not item.commitment:
            raise CatalogueError(f"{where}：材料“{m.name}”可告知承诺，但事项未实行告知承诺制")


def _check_needs(bundle: Bundle, where: str) -> None:
    """前后置: every ``needs`` names another part of the bundle, never a later stage, and they form no cycle."""
    parts = {p.key: p for p in bundle.parts}
    for part in bundle.parts:
        for need in part.needs:
            if need not in parts:
                raise CatalogueError(f"{where}：子项 {part.key} 的前置事项 needs 含有未知子项“{need}”")
            if need == part.key:
                raise CatalogueError(f"{where}：子项 {part.key} 的前置事项 needs 不能是它自己")
            if parts[need].stage > part.stage:
                raise CatalogueError(f"{where}：子项 {part.key} 的前置事项 {need} 属于后续阶段")
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(key: str, path: list[str]) -> None:
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            cycle = [*path[path.index(key) :], key]
            raise CatalogueError(f"{where}：前置事项 needs 成环：{' → '.join(cycle)}")
        state[key] = 1
        for need in parts[key].needs:
            visit(need, [*path, key])
        state[key] = 2

    for key in parts:
        visit(key, [])


def critical_path(bundle: Bundle, items: dict[str, Item], version: Version) -> float:
    """The longest chain of part limits (in the bundle promise's unit): a part starts when its ``needs`` and
    every part of the stages before its own are done. Parts without a limit of their own take their item's
    limit in force on the version's effective date; a limit in another unit (a working hour is as long as the
    hall's office hours make it) cannot be compared and is refused, except 即来即办 (0)."""
    parts = {p.key: p for p in bundle.parts}
    ends: dict[str, float] = {}

    def limit(part: Part) -> float:
        own = part.promised
        if own is None:
            item = items[part.item]
            own = (item.version_on(version.effective) or item.versions[0]).promised
        if own.value and own.unit != version.promised.unit:
            raise CatalogueError(
                f"一件事 {bundle.code}（{bundle.name}）：子项 {part.key} 的时限单位 {own.unit} 与一件事承诺时限单位 "
                f"{version.promised.unit} 不同，无法核对关键路径"
            )
        return own.value

    def end(key: str) -> float:
        if key not in ends:
            part = parts[key]
            before = [end(n) for n in part.needs]
            before += [end(p.key) for p in bundle.parts if p.stage < part.stage]
            ends[key] = max(before, default=0.0) + limit(part)
        return ends[key]

    return max((end(k) for k in parts), default=0.0)


def _check_critical_path(bundle: Bundle, items: dict[str, Item], where: str) -> None:
    for version in bundle.versions:
        longest = critical_path(bundle, items, version)
        if longest > version.promised.value + 1e-9:
            path = limit_text(round(longest, 3), version.promised.unit)
            raise CatalogueError(
                f"{where}：{version.effective} 版本的关键路径时限 {path}超过一件事承诺时限 {version.promised.text}"
            )


def _check_projects(data: _File) -> None:
    """工程建设项目类型: known stage bundles, each once, licences reused only from earlier stages that issue them,
    and stages whose promised limits (the latest version of each) add up to the type's budget."""
    bundles, items = {b.code: b for b in data.bundles}, {i.code: i for i in data.items}
    codes = [p.code for p in data.projects]
    if len(set(codes)) != len(codes):
        raise CatalogueError("工程建设项目类型编码重复")
    for project in data.projects:
        where = f"工程建设项目类型 {project.code}（{project.name}）"
        if not project.stages:
            raise CatalogueError(f"{where}：至少须有一个阶段")
        issued: set[str] = set()
        total = 0.0
        for n, stage in enumerate(project.stages, start=1):
            bundle = bundles.get(stage.bundle)
            if bundle is None:
                raise CatalogueError(f"{where}：第{n}阶段的一件事 {stage.bundle} 不在目录中")
            if [s.bundle for s in project.stages].count(stage.bundle) > 1:
                raise CatalogueError(f"{where}：阶段 {stage.bundle} 重复")
            unknown = [name for name in stage.reuses if name not in issued]
            if unknown:
                raise CatalogueError(f"{where}：第{n}阶段复用的证照 {'、'.join(unknown)} 不是此前阶段核发的证照")
            latest = max(bundle.versions, key=lambda v: v.effective).promised
            if latest.unit != project.budget.unit:
                raise CatalogueError(f"{where}：第{n}阶段的承诺时限单位与审批时限 budget 的单位不同")
            total += latest.value
            issued |= {items[p.item].licence for p in bundle.parts if p.item in items and items[p.item].licence}
        if abs(total - project.budget.value) > 1e-9:
            raise CatalogueError(
                f"{where}：各阶段承诺时限之和 {limit_text(total, project.budget.unit)}"
                f"与审批时限 {project.budget.text}不符"
            )


def load_catalogue(path: Path = DEFAULT_PATH) -> Catalogue:
    data = msgspec.toml.decode(path.read_bytes(), type=_File)
    check(data)
    _check_projects(data)
    return Catalogue(data.items, data.bundles, data.departments, data.projects)
