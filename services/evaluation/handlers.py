"""Evaluation's handlers for case facts and clocks: open services for rating, learn each window's end from timing,
apply the default rating once a window has passed, and note a correction's deadline and its overdue alert. A
deadline resting on a year without an official holiday schedule is 暂定 until timing revises it
(``DeadlineRevised``): the window's end and the correction's deadline follow."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.evaluation.messages import (
    CaseAccepted,
    CaseDelivered,
    Charge,
    ClockAlerted,
    ClockStarted,
    DeadlineRevised,
    FollowUp,
    Kind,
    Rater,
    RatingOpened,
    RatingRecorded,
    StepDecided,
)
from services.evaluation.ratings import CaseFile, StageRecord
from services.evaluation.store import Store
from shared.envelope import SYSTEM, Envelope
from shared.kafka import HandlerTable, NotYet, Route
from shared.levels import Level, to_code
from shared.localtime import local
from shared.outbox import Txn
from shared.pii import for_settings
from shared.rating_policy import RatingPolicy

OVERDUE = "逾期"
OWN_PURPOSES = ("评价期", "整改", "回访")
DECISIONS = ("通过", "不予许可")
SYSTEM_RATER = Rater(kind="system", name="系统", real_name=False)


def charges_of(case: CaseFile, stage_name: str, stage: StageRecord, policy: RatingPolicy) -> list[Charge]:
    """谁办理谁负责: the window (point, its department, the clerk who gave the service) and/or the decision (the
    deciding department and handler), as ``[attribution]`` of data/evaluation.toml says for the stage."""
    charged: list[Charge] = []
    for to in policy.attribution.charges(stage_name):
        if to == "window":
            department = case.window_department or case.department
            charged.append(Charge(to="window", department=department, clerk=stage.clerk, point=case.point))
        else:
            department = case.deciding_department or case.department
            charged.append(Charge(to="decision", department=department, clerk=case.decided_by or stage.clerk))
    return charged


def rating_record(
    case: CaseFile,
    stage_name: str,
    *,
    charged: list[Charge],
    level: Level,
    channel: str,
    rater: Rater,
    recorded_by: str,
    kind: Kind,
    at: datetime,
    indicators: dict[str, str] | None = None,
    text: str = "",
    default: bool = False,
) -> RatingRecorded:
    """One rating record with every field DOMAIN §5 names."""
    return RatingRecorded(
        rating_id=uuid.uuid4().hex,
        case_no=case.case_no,
        item_code=case.item_code,
        item_name=case.item_name,
        stage=stage_name,
        department=charged[0].department,
        clerk=charged[0].clerk,
        charged=charged,
        point=case.point,
        channel=channel,
        rater=rater,
        recorded_by=recorded_by,
        level=level.value,
        gbt_code=to_code(level, "GB/T 39046"),
        indicators=indicators or {},
        text=text,
        kind=kind,
        default=default,
        bad_review=level.bad,
        region_code=case.region_code,
        rated_at=at,
    )


class CaseClocks:
    def __init__(self, store: Store, policy: RatingPolicy, region_code: str) -> None:
        self.store = store
        self.policy = policy
        self.region_code = region_code

    def table(self) -> HandlerTable:
        """Every route (a rebuild replays them all)."""
        return {**self.case_table(), **self.clock_table()}

    def case_table(self) -> HandlerTable:
        """Intake's and routing's events: a case accepted, a step decided, a case delivered."""
        return {
            "CaseAccepted.v1": Route(CaseAccepted, self.case_accepted),
            "CaseDelivered.v1": Route(CaseDelivered, self.case_delivered),
            "StepDecided.v1": Route(StepDecided, self.step_decided),
        }

    def clock_table(self) -> HandlerTable:
        """Timing's answers for evaluation's own clocks (read on a patient consumer: few of timing's records)."""
        return {
            "ClockStarted.v1": Route(ClockStarted, self.clock_started),
            "ClockAlerted.v1": Route(ClockAlerted, self.clock_alerted),
            "DeadlineRevised.v1": Route(DeadlineRevised, self.deadline_revised),
        }

    def _open(self, txn: Txn, env: Envelope, case: CaseFile, stage: str, *, at: datetime, clerk: str) -> None:
        """A service event becomes open for rating; its window is a clock timing keeps."""
        if stage in case.stages:
            return
        clock_id = f"{env.case_id}:评价期:{stage}"
        case.stages[stage] = StageRecord(opened_at=at, clerk=clerk, clock_id=clock_id)
        opened = RatingOpened(
            case_no=case.case_no,
            stage=stage,
            clerk=clerk,
            item_code=case.item_code,
            item_name=case.item_name,
            department=case.department,
            applicant_name=case.applicant_name,
            opened_at=at,
        )
        txn.emit(self.store.events, opened)
        self.store.request_clock(
            txn,
            clock_id=clock_id,
            purpose="评价期",
            case_no=case.case_no,
            department=case.department,
            at=at,
            limit=self.policy.window.limit,
        )

    async def case_accepted(self, env: Envelope, event: CaseAccepted, txn: Txn) -> None:
        if await self.store.case(txn, env.case_id) is not None:
            return
        case = CaseFile(
            case_no=event.case_no,
            item_code=event.item_code,
            item_name=event.item_name,
            department=event.departments[0] if event.departments else "",
            region_code=event.region_code or self.region_code,
            applicant_name=event.applicant_name,
            # Kept sealed (shared.pii); an event from before sealing began is sealed here.
            applicant_id_number=for_settings(self.store.settings).seal(event.applicant_id_number),
            accepted_by=event.owner or env.actor.id,
            accepted_at=event.accepted_at,
            point=event.point,
            window_department=self.policy.attribution.point_departments.get(event.point, event.point_name),
            deciding_department=event.approving_department,
        )
        for stage in self.policy.stages.at_acceptance:
            self._open(txn, env, case, stage, at=event.accepted_at, clerk=case.accepted_by)
        self.store.save_case(txn, env.case_id, case)

    async def case_delivered(self, env: Envelope, event: CaseDelivered, txn: Txn) -> None:
        case = await self.store.case(txn, env.case_id)
        if case is None:
            raise NotYet(f"case {env.case_id} delivered before evaluation learnt of its acceptance")
        if case.delivered_at is not None:
            return
        case.delivered_at, case.delivered_by = event.delivered_at, env.actor.id
        for stage in self.policy.stages.at_delivery:
            # The whole case is the owner's (首问负责); the delivery is the delivering clerk's service.
            clerk = case.accepted_by if stage == "整体" else env.actor.id
            self._open(txn, env, case, stage, at=event.delivered_at, clerk=clerk)
        self.store.save_case(txn, env.case_id, case)

    async def step_decided(self, env: Envelope, event: StepDecided, txn: Txn) -> None:
        """The last 通过 / 不予许可 of a case is its decision: a 办结 rating goes to that department and handler."""
        if event.action not in DECISIONS:
            return
        case = await self.store.case(txn, env.case_id)
        if case is None:
            return  # a case accepted before evaluation knew it: its 办结 rating falls back to the case's department
        case.deciding_department = event.department or case.deciding_department
        case.decided_by = event.handler_id
        self.store.save_case(txn, env.case_id, case)

    async def _followup_of(self, txn: Txn, case: CaseFile, clock_id: str) -> FollowUp | None:
        for stage in case.stages.values():
            if stage.followup_id:
                followup = await self.store.followup(txn, stage.followup_id)
                if followup is not None and clock_id in (followup.clock_id, followup.visit_clock_id):
                    return followup
        return None

    def _window_ends(self, txn: Txn, case_id: str, case: CaseFile, clock_id: str, ends_at: datetime) -> None:
        """A rating window's end as timing computed it (started, or revised by an official calendar)."""
        for stage in case.stages.values():
            if stage.clock_id == clock_id:
                stage.window_ends_at = ends_at
                self.store.save_case(txn, case_id, case)

    async def clock_started(self, env: Envelope, event: ClockStarted, txn: Txn) -> None:
        if event.purpose not in OWN_PURPOSES:
            return  # a case, step or 补齐 clock: not evaluation's
        case = await self.store.case(txn, env.case_id)
        if case is None:
            return
        if event.purpose == "评价期":
            self._window_ends(txn, env.case_id, case, event.clock_id, event.promised_deadline)
            return
        followup = await self._followup_of(txn, case, event.clock_id)
        if followup is not None and event.purpose == "回访":
            if followup.visit is not None:
                return  # visited before timing answered: the deadline no longer matters
            followup.visit_deadline, followup.visit_deadline_provisional = event.promised_deadline, event.provisional
            provisional = "（暂定，以国务院公布的放假安排为准）" if event.provisional else ""
            self.store.save_followup(txn, followup, f"回访期限至 {local(event.promised_deadline)}{provisional}", SYSTEM)
        elif followup is not None:
            # The first correction clock, or the extension's (a new clock from the old deadline): timing's answer.
            followup.deadline, followup.deadline_provisional = event.promised_deadline, event.provisional
            provisional = "（暂定，以国务院公布的放假安排为准）" if event.provisional else ""
            self.store.save_followup(txn, followup, f"整改期限至 {local(event.promised_deadline)}{provisional}", SYSTEM)

    async def deadline_revised(self, env: Envelope, event: DeadlineRevised, txn: Txn) -> None:
        """A year's official schedule moved a rating window's end or a correction's deadline."""
        if event.purpose not in OWN_PURPOSES:
            return
        case = await self.store.case(txn, env.case_id)
        if case is None:
            return
        if event.purpose == "评价期":
            self._window_ends(txn, env.case_id, case, event.clock_id, event.promised_deadline)
            return
        followup = await self._followup_of(txn, case, event.clock_id)
        if followup is None:
            return
        if event.purpose == "回访":
            followup.visit_deadline = event.promised_deadline
            followup.visit_deadline_provisional = event.provisional
            if OVERDUE in event.retracted and followup.visit is None:
                followup.visit_overdue = False
            change = f"回访期限更正：{local(event.old_promised_deadline)} → {local(event.promised_deadline)}"
            self.store.save_followup(txn, followup, change, SYSTEM)
            return
        followup.deadline, followup.deadline_provisional = event.promised_deadline, event.provisional
        if OVERDUE in event.retracted and followup.status in ("待核实", "申诉中", "整改中"):
            followup.overdue = False  # it was overdue only under the provisional calendar
        still = "，仍为暂定" if event.provisional else ""
        change = (
            f"整改期限更正：{local(event.old_promised_deadline)} → {local(event.promised_deadline)}"
            f"（{event.year} 年放假安排已公布{still}）"
        )
        self.store.save_followup(txn, followup, change, SYSTEM)

    async def clock_alerted(self, env: Envelope, event: ClockAlerted, txn: Txn) -> None:
        if event.level != OVERDUE or event.purpose not in OWN_PURPOSES:
            return
        case = await self.store.case(txn, env.case_id)
        if case is None:
            return
        if event.purpose == "评价期":
            self._default_rating(txn, env, case, event)
            return
        followup = await self._followup_of(txn, case, event.clock_id)
        if followup is not None and event.purpose == "回访":
            if followup.visit is None and not followup.visit_overdue:
                followup.visit_overdue = True
                self.store.save_followup(txn, followup, f"回访逾期（期限 {local(event.deadline)}）", SYSTEM)
            return
        if followup is not None and followup.status in ("待核实", "申诉中", "整改中") and not followup.overdue:
            followup.overdue = True
            self.store.save_followup(txn, followup, f"整改逾期（期限 {local(event.deadline)}）", SYSTEM)

    def _default_rating(self, txn: Txn, env: Envelope, case: CaseFile, event: ClockAlerted) -> None:
        """Once per service event: the stored record says whether it was rated, whatever timing sends again."""
        for name, stage in case.stages.items():
            if stage.clock_id != event.clock_id or stage.first_id:
                continue
            record = rating_record(
                case,
                name,
                charged=charges_of(case, name, stage, self.policy),
                level=self.policy.default_level,
                channel="系统默认",
                rater=SYSTEM_RATER,
                recorded_by=SYSTEM.id,
                kind="首评",
                at=event.deadline,
                text="评价期内未评价，系统默认评价",
                default=True,
            )
            stage.first_id, stage.first_at, stage.first_default = record.rating_id, record.rated_at, True
            self.store.save_case(txn, env.case_id, case)
            txn.emit(self.store.events, record, actor=SYSTEM)
