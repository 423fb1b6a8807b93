"""Intake's handlers and the tables of what each one answers: applications, 补齐, and the 补齐 clock's alerts."""

from __future__ import annotations

import re
from datetime import datetime

import msgspec

from services.intake import decisions, prereview, projects
from services.intake.credit import CreditList
from services.intake.identity import home_province, identity_problem, normalize
from services.intake.messages import (
    ApplicationOutcome,
    CaseAccepted,
    CaseCompleted,
    CaseRefused,
    CaseSuspended,
    ClockAlerted,
    ClockRequested,
    ClockWithdrawn,
    Material,
    MaterialsSupplemented,
    MissingMaterial,
    OneTimeNoticeIssued,
    RegisterProject,
    ReviewPreSubmission,
    SubmitApplication,
    SupplementMaterials,
    SupplementOutcome,
)
from services.intake.rules import (
    Assessment,
    case_number,
    supplement_problem,
    unknown_materials,
)
from shared import topics
from shared.assessment import commitment_problem, unknown_problem, with_agent
from shared.catalogue import Catalogue, FormMaterial, Limit, Offering, Version
from shared.envelope import SYSTEM, Envelope
from shared.kafka import HandlerTable, Route
from shared.localtime import LOCAL
from shared.outbox import Txn
from shared.pii import UnsealError, for_settings
from shared.points import Point
from shared.replies import Refusal
from shared.settings import HallSettings

SUPPLEMENT = decisions.SUPPLEMENT  # the 补齐 clock's purpose
OVERDUE = "逾期"
NOTICE_SERIES = "YC"  # 一次告知书's own series in the case-number scheme


class CaseRecord(msgspec.Struct, kw_only=True):
    """What intake keeps of a case it numbered (its own key space)."""

    case_no: str
    item_code: str
    applicant_id: str  # the applicant's ID number as a keyed hash (older records: the number itself)
    refused: bool = False
    owed: list[Material] = []
    clock_id: str = ""
    suspended: bool = False


class NoticeRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A 一次告知书 intake numbered: kept like any other document (its number, item, applicant's hash, the list)."""

    notice_no: str
    case_id: str
    item_code: str
    applicant_id: str  # keyed hash
    missing: list[MissingMaterial]


class OnFile(msgspec.Struct, frozen=True):
    """A reusable material on file for an applicant: the case it came with."""

    case_no: str
    code: str


class Application(msgspec.Struct, frozen=True, kw_only=True):
    """An application that passed the input checks, with what they found."""

    env: Envelope
    cmd: SubmitApplication
    offering: Offering
    point: Point
    version: Version
    id_number: str  # unsealed and normalised: in memory only, sealed again in every event
    id_key: str  # its keyed hash, for the lookups by applicant (材料复用)


_record = msgspec.json.Decoder(CaseRecord)
_on_file = msgspec.json.Decoder(OnFile)


class Intake:
    def __init__(
        self, settings: HallSettings, catalogue: Catalogue, points: dict[str, Point], credit: CreditList
    ) -> None:
        self.settings = settings
        self.catalogue = catalogue
        self.points = points
        self.credit = credit
        self.pii = for_settings(settings)
        self.events = settings.topic(topics.INTAKE_EVENTS)

    def table(self) -> HandlerTable:
        return {
            "SubmitApplication.v1": Route(SubmitApplication, self.submit_application),
            "SupplementMaterials.v1": Route(SupplementMaterials, self.supplement_materials),
            "ReviewPreSubmission.v1": Route(ReviewPreSubmission, self.review_presubmission),
            "RegisterProject.v1": Route(RegisterProject, self.register_project),
        }

    def routing_table(self) -> HandlerTable:
        """工程建设: the results of projects' stages (services/intake/projects.py)."""
        return {"CaseCompleted.v1": Route(CaseCompleted, self.case_completed)}

    async def register_project(self, env: Envelope, cmd: RegisterProject, txn: Txn) -> None:
        try:
            await projects.register(self, env, cmd, txn)
        except Refusal as refusal:
            txn.refuse(refusal)

    async def case_completed(self, _: Envelope, event: CaseCompleted, txn: Txn) -> None:
        await projects.case_completed(self, event, txn)

    def timing_table(self) -> HandlerTable:
        return {"ClockAlerted.v1": Route(ClockAlerted, self.clock_alerted)}

    def key(self, *parts: str) -> str:
        return self.settings.key("intake", *parts)

    # ------------------------------------------------------------ 申报 → 受理 / 待补正 / 不予受理

    async def submit_application(self, env: Envelope, cmd: SubmitApplication, txn: Txn) -> None:
        try:
            if cmd.channel != "window":  # 预审: a machine or online channel only submits (services/intake/prereview.py)
                await prereview.submit(self, env, cmd, txn)
            else:
                await self._decide(env, cmd, txn)
        except Refusal as refusal:
            txn.refuse(refusal)

    async def review_presubmission(self, env: Envelope, cmd: ReviewPreSubmission, txn: Txn) -> None:
        """A clerk's 预审 of a kiosk, web or mobile submission: the window's rules, the clerk as the actor."""
        try:
            await prereview.review(self, env, cmd, txn)
        except Refusal as refusal:
            txn.refuse(refusal)

    def _checked(self, cmd: SubmitApplication, at: datetime) -> tuple[Offering, Point, Version, Limit | None]:
        """The application's item or bundle, point, version in force and 补齐 period; Refusal on bad input."""
        offering = self.catalogue.offering(cmd.item_code)
        if offering is None:
            raise Refusal(422, f"未知事项编码：{cmd.item_code}")
        problem = identity_problem(cmd.applicant.id_type, self._id_number(cmd))
        if problem is not None:
            raise Refusal(422, problem)
        if cmd.agent is not None:
            agent_problem = identity_problem(cmd.agent.id_type, self._agent_id_number(cmd))
            if agent_problem is not None:
                raise Refusal(422, f"代理人证件号码（agent.id_number）：{agent_problem}")
        point = self.points.get(cmd.point)
        if point is None:
            raise Refusal(422, f"未知受理场所：{cmd.point}")
        if problem := unknown_problem(offering, unknown_materials(self.form(offering, cmd), cmd.materials)):
            raise Refusal(422, problem)
        version = offering.version_on(at.date())
        if version is None:
            raise Refusal(422, f"“{offering.name}”在 {at:%Y-%m-%d} 尚未生效")
        if problem := commitment_problem(self.catalogue, offering, cmd.commitment_signed):
            raise Refusal(422, problem)
        requested = Limit(cmd.supplement_limit.value, cmd.supplement_limit.unit) if cmd.supplement_limit else None
        if requested is not None and (reason := supplement_problem(requested, version.promised)):
            raise Refusal(422, reason)
        return offering, point, version, requested

    def form(self, offering: Offering, cmd: SubmitApplication) -> list[FormMaterial]:
        """The checklist of this application: the item's, with the 授权委托书 required when an agent is named."""
        form = self.catalogue.form(offering)
        if cmd.project_code:  # 工程建设: the licences of earlier stages the stage needs (材料复用)
            form = [*form, *projects.reuse_lines(self.catalogue, offering)]
        return form if cmd.agent is None else with_agent(form)

    def _agent_id_number(self, cmd: SubmitApplication) -> str:
        """The agent's ID number, opened (as the gateway sealed it)."""
        if cmd.agent is None:
            return ""
        try:
            return self.pii.unseal(cmd.agent.id_number)
        except UnsealError as exc:
            raise Refusal(422, "代理人证件号码无法解密：请重新提交申请") from exc

    def _agent_fields(self, cmd: SubmitApplication) -> dict[str, str]:
        """The agent as events carry it (the ID number normalised and sealed), or nothing."""
        if cmd.agent is None:
            return {}
        return {
            "agent_name": cmd.agent.name,
            "agent_id_type": cmd.agent.id_type,
            "agent_id_number": self.pii.seal(normalize(cmd.agent.id_type, self._agent_id_number(cmd))),
            "agent_relation": cmd.agent.relation,
        }

    def _id_number(self, cmd: SubmitApplication) -> str:
        """The applicant's ID number as the gateway sealed it, opened (a command written before sealing: as is)."""
        try:
            return self.pii.unseal(cmd.applicant.id_number)
        except UnsealError as exc:
            raise Refusal(422, "证件号码无法解密：请重新提交申请") from exc

    async def _decide(self, env: Envelope, cmd: SubmitApplication, txn: Txn) -> None:
        at = env.occurred_at.astimezone(LOCAL)
        offering, point, version, requested = self._checked(cmd, at)
        id_number = normalize(cmd.applicant.id_type, self._id_number(cmd))
        # A retried command has the same event id and is answered from its marker (shared.outbox); the gateway
        # gives every other command a case id of its own, so no case is numbered twice.
        application = Application(
            env=env,
            cmd=cmd,
            offering=offering,
            point=point,
            version=version,
            id_number=id_number,
            id_key=self.pii.lookup_hash(id_number),
        )
        stage = await projects.check_stage(self, txn, cmd, offering, id_number)
        listing = self.credit.exclusion(application.id_number, at.date()) if cmd.commitment_signed else None
        refusal = decisions.refusal_reason(cmd.refusal_reason, commitment_signed=cmd.commitment_signed, listing=listing)
        form, given = self.form(offering, cmd), set(cmd.materials)
        # 材料复用: the applicant's file is read only when a reusable material was not handed in.
        wanted = not refusal and any(m.reusable and m.required and m.code not in given for m in form)
        on_file: dict[bytes, bytes] = {}
        if wanted:  # under the current secret's hash, and the previous one's during a rotation (current wins)
            for id_key in reversed(self.pii.lookup_hashes(application.id_number)):
                on_file.update(await txn.hgetall(self.key("docs", id_key)))
        reusable = {name.decode(): _on_file.decode(raw).case_no for name, raw in on_file.items()}
        decision = decisions.decide(
            refusal=refusal,
            form=form,
            provided=cmd.materials,
            on_file={**reusable, **(stage.reused if stage else {})},
            deferral_signed=cmd.deferral_signed,
            commitment_signed=cmd.commitment_signed,
            requested=requested,
            promised=version.promised,
        )
        if isinstance(decision, decisions.Refused):
            await self._refuse(txn, application, decision.reason)
        elif isinstance(decision, decisions.Incomplete):
            await self._notify_missing(txn, application, decision.checked)
        else:
            await self._accept(txn, application, decision.checked, requested, stage)

    def _elsewhere(self, offering: Offering, cmd: SubmitApplication) -> str:
        """跨省通办: the province competent for an applicant from elsewhere, or "" when the hall decides itself."""
        if offering.scope != "跨省":
            return ""
        home = home_province(cmd.applicant.id_type, self._id_number(cmd))
        if home is None or home[0] == self.settings.region_code[:2]:
            return ""
        return home[1]

    async def _number(self, txn: Txn, at: datetime) -> str:
        sequence = await txn.next_number(self.key("seq", f"{at:%Y%m%d}"))
        return case_number(self.settings.region_code, at, sequence)

    async def _notify_missing(self, txn: Txn, application: Application, checked: Assessment) -> None:
        """一次告知: every missing material at once, in a numbered 一次性告知书 that is kept (intake's record and
        an event) so it can be reprinted, audited and counted."""
        env, cmd, offering, point = application.env, application.cmd, application.offering, application.point
        at = env.occurred_at.astimezone(LOCAL)
        sequence = await txn.next_number(self.key("seq-notice", f"{at:%Y%m%d}"))
        notice_no = notice_number(self.settings.region_code, at, sequence)
        record = NoticeRecord(
            notice_no=notice_no,
            case_id=env.case_id,
            item_code=offering.code,
            applicant_id=application.id_key,
            missing=checked.missing,
        )
        txn.set(self.key("notice", notice_no), record)
        txn.emit(
            self.events,
            OneTimeNoticeIssued(
                notice_no=notice_no,
                item_code=offering.code,
                item_name=offering.name,
                applicant_name=cmd.applicant.name,
                applicant_id_type=cmd.applicant.id_type,
                applicant_id_number=self.pii.seal(application.id_number),
                missing=checked.missing,
                reused=checked.reused,
                owner=env.actor.id,
                owner_name=env.actor.name,
                point=point.code,
                point_name=point.name,
                channel=cmd.channel,
                issued_at=env.occurred_at,
                helper_name=cmd.helper_name,
                **self._agent_fields(cmd),
            ),
        )
        outcome = ApplicationOutcome(
            outcome="待补正",
            case_id=env.case_id,
            item_code=offering.code,
            item_name=offering.name,
            missing=checked.missing,
            reused=checked.reused,
            point_name=point.name,
            notice_no=notice_no,
        )
        txn.answer(200, body=outcome)

    async def _refuse(self, txn: Txn, application: Application, reason: str) -> None:
        env, cmd, offering, point = application.env, application.cmd, application.offering, application.point
        case_no = await self._number(txn, env.occurred_at.astimezone(LOCAL))
        record = CaseRecord(case_no=case_no, item_code=offering.code, applicant_id=application.id_key, refused=True)
        txn.set(self.key("case", env.case_id), record)
        txn.emit(
            self.events,
            CaseRefused(
                case_no=case_no,
                item_code=offering.code,
                item_name=offering.name,
                applicant_name=cmd.applicant.name,
                applicant_id_type=cmd.applicant.id_type,
                applicant_id_number=self.pii.seal(application.id_number),
                reason=reason,
                owner=env.actor.id,
                owner_name=env.actor.name,
                point=point.code,
                point_name=point.name,
                channel=cmd.channel,
                refused_at=env.occurred_at,
                **self._agent_fields(cmd),
            ),
        )
        outcome = ApplicationOutcome(
            outcome="不予受理",
            case_id=env.case_id,
            case_no=case_no,
            item_code=offering.code,
            item_name=offering.name,
            reason=reason,
            point_name=point.name,
        )
        txn.answer(422, reason=reason, body=outcome)

    async def _accept(
        self,
        txn: Txn,
        application: Application,
        checked: Assessment,
        requested: Limit | None,
        stage: projects.Stage | None = None,
    ) -> None:
        env, cmd, offering, point = application.env, application.cmd, application.offering, application.point
        version, id_number, id_key = application.version, application.id_number, application.id_key
        accepted_at = env.occurred_at.astimezone(LOCAL)
        case_no = await self._number(txn, accepted_at)
        form = self.form(offering, cmd)
        terms = decisions.supplement_terms(case_no, checked, requested, version.promised)
        owed, supplement, clock_id = terms.owed, terms.supplement, terms.clock_id
        case = decisions.shape(self.catalogue, offering, case_no, accepted_at)
        children, approving = case.children, case.approving
        jurisdiction = self._elsewhere(offering, cmd)
        accepted = CaseAccepted(
            case_no=case_no,
            item_code=offering.code,
            item_name=offering.name,
            item_version=version.effective.isoformat(),
            departments=case.departments,
            case_type=case.case_type,
            statutory_limit=decisions.limit_out(version.statutory),
            promised_limit=decisions.limit_out(version.promised),
            applicant_name=cmd.applicant.name,
            applicant_id_type=cmd.applicant.id_type,
            applicant_id_number=self.pii.seal(id_number),
            applicant_phone=self.pii.seal(cmd.applicant.phone),
            channel=cmd.channel,
            accepted_at=env.occurred_at,
            owner=env.actor.id,
            owner_name=env.actor.name,
            point=point.code,
            point_name=point.name,
            point_level=point.level,
            approving_department=approving,
            approving_department_uscc=self.catalogue.uscc(approving),
            approving_level=case.level,
            co_departments=case.co_departments,
            countersign=case.countersign,
            scope=offering.scope,
            cross_province=bool(jurisdiction),
            jurisdiction=jurisdiction,
            handover_limit=decisions.limit_out(self.catalogue.handover_limit(offering.code)) if jurisdiction else None,
            special_procedures=case.special_procedures,
            materials=decisions.received(form, cmd.materials, checked.reused),
            reused_materials=checked.reused,
            deferred=bool(owed),
            owed_materials=owed,
            supplement_limit=supplement,
            commitment=cmd.commitment_signed,
            children=children,
            helper_name=cmd.helper_name,
            project_code=stage.project_code if stage else "",
            project_stage=stage.stage if stage else 0,
            **self._agent_fields(cmd),
        )
        record = CaseRecord(case_no=case_no, item_code=offering.code, applicant_id=id_key, owed=owed, clock_id=clock_id)
        txn.set(self.key("case", env.case_id), record)
        self._keep_on_file(txn, id_key, case_no, decisions.kept_on_file(form, cmd.materials))
        txn.emit(self.events, accepted)
        if stage is not None:
            await projects.stage_accepted(self, txn, stage, case_no, env.case_id)
        if supplement is not None:
            txn.set(self.key("clock", clock_id), env.case_id)
            txn.emit(
                self.events,
                ClockRequested(
                    clock_id=clock_id,
                    purpose=SUPPLEMENT,
                    case_no=case_no,
                    department=approving,
                    starts_at=env.occurred_at,
                    limit=supplement,
                    not_after=None,  # intake knows no deadline: timing caps it by the case's promised one
                ),
            )
        outcome = ApplicationOutcome(
            outcome="受理",
            case_id=env.case_id,
            case_no=case_no,
            item_code=offering.code,
            item_name=offering.name,
            reused=checked.reused,
            deferred=bool(owed),
            owed=owed,
            supplement_limit=supplement,
            commitment=cmd.commitment_signed,
            promised_limit=decisions.limit_out(version.promised),
            point_name=point.name,
            children=children,
            project_code=stage.project_code if stage else "",
            project_stage=stage.stage if stage else 0,
        )
        txn.answer(201, body=outcome)

    def _keep_on_file(
        self, txn: Txn, id_key: str, case_no: str, materials: list[FormMaterial] | list[Material]
    ) -> None:
        """材料复用: reusable materials the applicant handed in are on file for their later cases, under the
        applicant's keyed hash (a record written before hashing holds the number: hashed here)."""
        if not re.fullmatch(r"[0-9a-f]{64}", id_key):
            id_key = self.pii.lookup_hash(normalize("居民身份证", id_key))
        key = self.key("docs", id_key)
        mapping: dict[str | bytes | bytearray | memoryview[int] | int | float, bytes] = {
            m.name: msgspec.json.encode(OnFile(case_no, m.code)) for m in materials
        }
        if mapping:
            txn.write(lambda pipe: pipe.hset(key, mapping=mapping))

    # ------------------------------------------------------------ 补齐

    async def supplement_materials(self, env: Envelope, cmd: SupplementMaterials, txn: Txn) -> None:
        raw = await txn.get(self.key("case", env.case_id))
        if raw is None:
            txn.answer(404, reason="没有该办件")
            return
        record = _record.decode(raw)
        try:
            found = decisions.supplement(record.case_no, record.owed, cmd.materials, refused=record.refused)
        except Refusal as refusal:
            txn.refuse(refusal)
            return
        received, record.owed, complete = found.received, found.remaining, found.complete
        if complete:
            record.suspended = False
        txn.set(self.key("case", env.case_id), record)
        offering = self.catalogue.offering(record.item_code)
        if offering is not None:
            reusable = {m.code for m in self.catalogue.form(offering) if m.reusable}
            self._keep_on_file(txn, record.applicant_id, record.case_no, [m for m in received if m.code in reusable])
        txn.emit(
            self.events,
            MaterialsSupplemented(
                case_no=record.case_no,
                materials=received,
                remaining=record.owed,
                complete=complete,
                supplemented_at=env.occurred_at,
            ),
        )
        if complete and record.clock_id:
            txn.emit(
                self.events,
                ClockWithdrawn(
                    clock_id=record.clock_id, purpose=SUPPLEMENT, case_no=record.case_no, withdrawn_at=env.occurred_at
                ),
            )
        outcome = SupplementOutcome(case_no=record.case_no, received=received, remaining=record.owed, complete=complete)
        txn.answer(200, body=outcome)

    # ------------------------------------------------------------ 补齐 deadline missed → 中止

    async def clock_alerted(self, env: Envelope, event: ClockAlerted, txn: Txn) -> None:
        if event.purpose != SUPPLEMENT or event.level != OVERDUE:
            return
        case_id_raw = await txn.get(self.key("clock", event.clock_id))
        if case_id_raw is None:
            return  # not a clock intake asked for
        case_id = case_id_raw.decode()
        case_key = self.key("case", case_id)
        raw = await txn.get(case_key)
        if raw is None:
            return
        record = _record.decode(raw)
        if not record.owed or record.suspended:
            return  # complete in time, or already suspended
        record.suspended = True
        txn.set(case_key, record)
        reason, notice = decisions.suspension(record.case_no, record.owed)
        txn.emit(
            self.events,
            CaseSuspended(
                case_no=record.case_no,
                reason=reason,
                owed_materials=record.owed,
                notice=notice,
                suspended_at=event.fired_at or env.occurred_at,
            ),
            case_id=case_id,
            actor=SYSTEM,
        )


def notice_number(region_code: str, issued_at: datetime, sequence: int) -> str:
    """一次告知书编号: the case-number scheme with its own series, e.g. 15052520261130YC000007."""
    return f"{region_code}{issued_at:%Y%m%d}{NOTICE_SERIES}{sequence:06d}"
