"""工程建设项目: a project registered once, its stages applied for one by one, each its own case and clock.

A clerk registers the project (项目代码 from the investment project platform, name, builder with its 统一社会信用代码,
location, and the 工程建设 type of the catalogue's ``[[projects]]``, which decides the stages). Each stage is then an
ordinary application for the stage's bundle that names the project (``project_code``), with that stage's materials
only. Intake refuses it while the stage before is not 准予 (422 naming that stage), and a stage once applied for
is not applied for again unless it was refused. Routing's ``CaseCompleted`` of a stage's case tells intake its
result; the licences (批复) it issued are on file for the later stages (材料复用: they count as supplied).

Keys (intake's own, rebuilt from ``intake.events``): ``project:<code>`` the project and each stage's case and
result; ``project-case:<case_no>`` the project a stage's case belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec

from services.intake.identity import identity_problem, normalize
from services.intake.messages import (
    CaseAccepted,
    CaseCompleted,
    LimitOut,
    ProjectOutcome,
    ProjectRegistered,
    ProjectStageCompleted,
    ProjectStageOut,
    RegisterProject,
    StageLicence,
    SubmitApplication,
)
from shared.catalogue import Bundle, Catalogue, FormMaterial, Offering
from shared.envelope import Envelope
from shared.outbox import Txn
from shared.replies import Refusal

if TYPE_CHECKING:
    from services.intake.handlers import Intake

# 项目代码 of the national investment project platform: year-区划代码-行业代码-审批类别(01 审批 02 核准 03 备案)-序号.
PROJECT_CODE = re.compile(r"(?P<year>\d{4})-(?P<region>\d{6})-\d{2}-0[1-3]-\d{6}")
PROJECT_CODE_TEXT = (
    "项目代码格式为“年份-6位行政区划代码-2位行业代码-审批类别（01审批/02核准/03备案）-6位序号”，"
    "如 2026-150525-47-03-000123"
)
GRANTED = "准予"
BUILDER_ID = "统一社会信用代码"


class StageState(msgspec.Struct, kw_only=True):
    """One stage of a project as intake keeps it: its latest case and that case's result ("" while it runs)."""

    stage: int
    bundle_code: str
    name: str
    case_no: str = ""
    case_id: str = ""
    result: str = ""
    licences: list[StageLicence] = []


class ProjectRecord(msgspec.Struct, kw_only=True):
    project_code: str
    name: str
    builder: str
    builder_uscc: str
    project_type: str
    stages: list[StageState]


class Stage(msgspec.Struct, frozen=True, kw_only=True):
    """An application's project stage, checked: the project, the stage's place and the licences it reuses."""

    project_code: str
    stage: int
    reused: dict[str, str]  # licence name → the stage case that issued it


_project = msgspec.json.Decoder(ProjectRecord)


def code_problem(code: str) -> str | None:
    """Why ``code`` is no 项目代码, or None."""
    if PROJECT_CODE.fullmatch(code) is None:
        return f"项目代码“{code}”格式有误：{PROJECT_CODE_TEXT}"
    return None


def _key(intake: Intake, *parts: str) -> str:
    return intake.key(*parts)


def record_of(event: ProjectRegistered) -> ProjectRecord:
    return ProjectRecord(
        project_code=event.project_code,
        name=event.name,
        builder=event.builder,
        builder_uscc=event.builder_uscc,
        project_type=event.project_type,
        stages=[StageState(stage=s.stage, bundle_code=s.bundle_code, name=s.name) for s in event.stages],
    )


def stage_outs(catalogue: Catalogue, project_type: str) -> list[ProjectStageOut]:
    found = catalogue.project_types[project_type]
    outs = []
    for n, stage in enumerate(found.stages, start=1):
        bundle = catalogue.bundle(stage.bundle)
        assert bundle is not None  # the catalogue check
        promised = max(bundle.versions, key=lambda v: v.effective).promised
        outs.append(
            ProjectStageOut(
                stage=n,
                bundle_code=bundle.code,
                name=bundle.name.rpartition("·")[2] or bundle.name,
                promised_limit=LimitOut(promised.value, promised.unit),
                reuses=list(stage.reuses),
            )
        )
    return outs


async def load(intake: Intake, txn: Txn, code: str) -> ProjectRecord | None:
    raw = await txn.get(_key(intake, "project", code))
    return _project.decode(raw) if raw is not None else None


# ---------------------------------------------------------------- 登记


async def register(intake: Intake, env: Envelope, cmd: RegisterProject, txn: Txn) -> None:
    """Registers the project once: 201 with its stages, 409 when the code is taken, 422 naming what is wrong."""
    code = cmd.project_code.strip()
    problem = code_problem(code)
    if problem is not None:
        raise Refusal(422, problem)
    for field, text in (("name", "项目名称"), ("builder", "建设单位"), ("location", "建设地点")):
        if not getattr(cmd, field).strip():
            raise Refusal(422, f"请填写{text}（{field}）")
    uscc = normalize(BUILDER_ID, cmd.builder_uscc)
    if (uscc_problem := identity_problem(BUILDER_ID, uscc)) is not None:
        raise Refusal(422, f"建设单位统一社会信用代码（builder_uscc）：{uscc_problem}")
    kind = intake.catalogue.project_types.get(cmd.project_type)
    if kind is None:
        known = "、".join(f"{t.code}（{t.name}）" for t in intake.catalogue.project_types.values())
        raise Refusal(422, f"未知工程建设项目类型“{cmd.project_type}”：可选 {known}")
    existing = await load(intake, txn, code)
    if existing is not None:
        raise Refusal(409, f"项目代码 {code} 已登记（{existing.name}，{existing.builder}），无需重复登记")
    stages = stage_outs(intake.catalogue, kind.code)
    budget = LimitOut(kind.budget.value, kind.budget.unit)
    event = ProjectRegistered(
        project_code=code,
        name=cmd.name.strip(),
        builder=cmd.builder.strip(),
        builder_uscc=uscc,
        location=cmd.location.strip(),
        project_type=kind.code,
        type_name=kind.name,
        stages=stages,
        budget=budget,
        registered_at=env.occurred_at,
        registered_by=env.actor.id,
        registered_by_name=env.actor.name,
    )
    txn.set(_key(intake, "project", code), record_of(event))
    txn.emit(intake.events, event)
    outcome = ProjectOutcome(
        project_code=code,
        name=event.name,
        project_type=kind.code,
        type_name=kind.name,
        stages=stages,
        budget=budget,
    )
    txn.answer(201, body=outcome)


# ---------------------------------------------------------------- 分阶段申报


def reuse_lines(catalogue: Catalogue, offering: Offering) -> list[FormMaterial]:
    """The licences of earlier stages a stage's bundle needs (in any project type), as lines of its form: required,
    and supplied by the project when an earlier stage of it issued them (材料复用)."""
    if not isinstance(offering, Bundle):
        return []
    names = [
        name
        for kind in catalogue.project_types.values()
        for stage in kind.stages
        if stage.bundle == offering.code
        for name in stage.reuses
    ]
    return [
        FormMaterial(
            code=f"R{n:02d}",
            name=name,
            required=True,
            deferrable=False,
            commitment=False,
            reusable=True,
            originals=0,
            copies=1,
            parts=[],
        )
        for n, name in enumerate(dict.fromkeys(names), start=1)
    ]


def _state_text(state: StageState) -> str:
    if not state.case_no:
        return "尚未申报"
    if not state.result:
        return f"办件 {state.case_no} 正在审批"
    return f"办件 {state.case_no} {state.result}许可"


async def check_stage(
    intake: Intake, txn: Txn, cmd: SubmitApplication, offering: Offering, id_number: str
) -> Stage | None:
    """The project stage an application is, checked against the project's state; None for any other application.

    Refused (422) without a project code for a stage bundle, with one for anything else, for an unknown project,
    a stage its type lacks, an applicant who is not the builder, or a stage before it not yet 准予; 409 for a stage
    already applied for (and not refused)."""
    code = cmd.project_code.strip()
    is_stage = isinstance(offering, Bundle) and intake.catalogue.is_project_stage(offering.code)
    if not code:
        if is_stage:
            raise Refusal(422, f"“{offering.name}”是工程建设项目的审批阶段：请填写已登记的项目代码（project_code）")
        return None
    if not is_stage:
        raise Refusal(422, f"“{offering.name}”不是工程建设项目的审批阶段，不能填写项目代码（project_code）")
    record = await load(intake, txn, code)
    if record is None:
        problem = code_problem(code) or f"项目代码 {code} 尚未登记：请先登记工程建设项目"
        raise Refusal(422, problem)
    n = intake.catalogue.project_stage(record.project_type, offering.code)
    if n == 0:
        names = "、".join(f"第{s.stage}阶段“{s.name}”" for s in record.stages)
        raise Refusal(422, f"项目 {code} 的类型不含“{offering.name}”：该项目的阶段为 {names}")
    if cmd.applicant.id_type != BUILDER_ID or normalize(BUILDER_ID, id_number) != record.builder_uscc:
        raise Refusal(
            422, f"工程建设项目各阶段须由建设单位“{record.builder}”（统一社会信用代码 {record.builder_uscc}）申请"
        )
    state = record.stages[n - 1]
    if state.case_no and state.result in ("", GRANTED):
        raise Refusal(409, f"第{n}阶段“{state.name}”已申报（{_state_text(state)}），不能重复申报")
    if n > 1:
        before = record.stages[n - 2]
        if before.result != GRANTED:
            raise Refusal(
                422,
                f"前一阶段第{n - 1}阶段“{before.name}”尚未准予（{_state_text(before)}），"
                f"不能申报第{n}阶段“{state.name}”",
            )
    reused = {
        licence.licence_name: licence.case_no
        for earlier in record.stages[: n - 1]
        if earlier.result == GRANTED
        for licence in earlier.licences
    }
    return Stage(project_code=code, stage=n, reused=reused)


async def stage_accepted(intake: Intake, txn: Txn, stage: Stage, case_no: str, case_id: str) -> None:
    """The stage's case is accepted: it is the stage's case now (a refused earlier case is replaced)."""
    record = await load(intake, txn, stage.project_code)
    if record is None:
        return
    current = record.stages[stage.stage - 1]
    record.stages[stage.stage - 1] = StageState(
        stage=current.stage, bundle_code=current.bundle_code, name=current.name, case_no=case_no, case_id=case_id
    )
    txn.set(_key(intake, "project", stage.project_code), record)
    txn.set(_key(intake, "project-case", case_no), stage.project_code)


def licences_of(event: CaseCompleted) -> list[StageLicence]:
    return [
        StageLicence(item_name=i.item_name, licence_name=i.licence_name, licence_no=i.licence_no, case_no=i.case_no)
        for i in event.items
        if i.result == GRANTED and i.licence_name and i.licence_no
    ]


async def case_completed(intake: Intake, event: CaseCompleted, txn: Txn) -> None:
    """Routing's 办结 of a stage's case: the stage's result and licences, and ``ProjectStageCompleted``."""
    raw = await txn.get(_key(intake, "project-case", event.case_no))
    if raw is None:
        return  # not a project's stage
    code = raw.decode()
    record = await load(intake, txn, code)
    if record is None:
        return
    state = next((s for s in record.stages if s.case_no == event.case_no), None)
    if state is None or state.result:
        return  # replaced by a later case, or already known
    state.result = event.result
    state.licences = licences_of(event)
    txn.set(_key(intake, "project", code), record)
    txn.emit(
        intake.events,
        ProjectStageCompleted(
            project_code=code,
            stage=state.stage,
            case_no=event.case_no,
            result=event.result,
            reasons=event.reasons,
            completed_at=event.completed_at,
            licences=state.licences,
        ),
    )


# ---------------------------------------------------------------- rebuild


class ProjectFold:
    """Folds intake's events into the projects' keys (services/intake/rebuild.py)."""

    def __init__(self) -> None:
        self.projects: dict[str, ProjectRecord] = {}
        self.cases: dict[str, str] = {}

    def apply(self, event: ProjectRegistered | ProjectStageCompleted) -> None:
        if isinstance(event, ProjectRegistered):
            self.projects.setdefault(event.project_code, record_of(event))
        else:
            self.completed(event)

    def accepted(self, env: Envelope, event: CaseAccepted) -> None:
        record = self.projects.get(event.project_code)
        if record is None or not 0 < event.project_stage <= len(record.stages):
            return
        current = record.stages[event.project_stage - 1]
        record.stages[event.project_stage - 1] = StageState(
            stage=current.stage,
            bundle_code=current.bundle_code,
            name=current.name,
            case_no=event.case_no,
            case_id=env.case_id,
        )
        self.cases[event.case_no] = event.project_code

    def completed(self, event: ProjectStageCompleted) -> None:
        record = self.projects.get(event.project_code)
        if record is None:
            return
        state = next((s for s in record.stages if s.case_no == event.case_no), None)
        if state is not None and not state.result:
            state.result = event.result
            state.licences = list(event.licences)

    def into(self, strings: dict[str, bytes], key: Callable[..., str]) -> None:
        for code, record in self.projects.items():
            strings[key("project", code)] = msgspec.json.encode(record)
        for case_no, code in self.cases.items():
            strings[key("project-case", case_no)] = code.encode()
