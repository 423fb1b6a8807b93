"""A routed case: the one aggregate routing keeps per case (a bundle's children included), and its refusals.

A case is handled in *tracks*: one per bundle child (一件事), or one per department of a single item. Each
track runs its three steps 承办 → 审核 → 决定 in sequence; the tracks of one ``stage`` run in parallel, and
工程建设's stages run one after the other. A child that ``needs`` others (前后置) opens when they are all granted.
A single item whose co-departments 会签 has one 会签 step per co-department, in parallel with 承办 and 审核; its
决定 opens when all of them are done. A 跨省通办 case has one external track and no local steps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from services.routing.messages import Action, ChildResult, DeliveryMethod, Limit, Material, Result, SpecialKind
from shared.replies import Refusal

StepStatus = Literal["待办", "已办"]  # GB/T 39046 表7
Waiting = Literal["", "补正", "特别程序"]
TrackStatus = Literal["未开始", "办理中", "已移交", "已办结"]
CaseStatus = Literal["办理中", "已办结", "已出件", "已退件"]


class Special(msgspec.Struct, kw_only=True):
    kind: SpecialKind
    reason: str
    started_at: datetime


class PendingExtension(msgspec.Struct, kw_only=True):
    extension: Limit
    reason: str
    requested_by: str
    requested_at: datetime


class Track(msgspec.Struct, kw_only=True):
    no: int
    case_no: str  # the child's case no in a bundle; the case's own otherwise
    clock_id: str  # the clock timing runs for this item: the child's case no, or the case id
    item_code: str
    item_name: str
    department: str
    stage: int = 1
    promised_limit: Limit
    child: bool = False
    external: bool = False
    status: TrackStatus = "未开始"
    result: ChildResult | None = None
    reason: str = ""
    extensions: list[Limit] = []  # the extensions approved for this item (capped by its catalogue entry)
    licence_name: str = ""  # 准予: the licence its 决定 issued
    licence_no: str = ""
    validity: str = ""
    key: str = ""  # a bundle child's catalogue part key
    needs: list[str] = []  # 前后置: the keys of the children it waits for (it opens when they are all 准予)
    co_departments: list[str] = []  # 会签: each has a step in parallel with 承办/审核, joined before 决定


class Step(msgspec.Struct, kw_only=True):
    step_id: str
    track: int
    seq: int  # 1 承办, 2 审核, 3 决定
    name: str
    department: str
    limit: Limit
    status: StepStatus = "待办"
    waiting: Waiting = ""
    assignee_id: str = ""
    assignee_name: str = ""
    action: Action | None = None
    opinion: str = ""
    handler: str = ""
    started_at: datetime
    ended_at: datetime | None = None
    special: Special | None = None
    extension: PendingExtension | None = None
    escalated: list[str] = []
    returned: list[str] = []  # 退回补正: what the applicant must bring (until the step resumes)
    return_clock: str = ""  # the clock on the return's limit (timing's 逾期 on it makes the case 退件)
    countersign: bool = False  # a co-department's 会签 step (seq 2: it joins the 审核 before 决定)


class Delivery(msgspec.Struct, kw_only=True):
    method: DeliveryMethod
    address: str
    at: datetime


class RoutedCase(msgspec.Struct, kw_only=True):
    case_id: str
    case_no: str
    item_code: str
    item_name: str
    bundle: bool = False
    point: str = ""
    jurisdiction: str = ""
    external_case_no: str = ""
    handover_items: list[str] = []  # 跨省通办 of a 一件事: the names of the items handed over as one
    tracks: list[Track]
    steps: list[Step] = []
    stage: int = 1
    status: CaseStatus = "办理中"
    result: Result | None = None
    reasons: list[str] = []
    owed: list[Material] = []
    suspended: str = ""
    delivery: Delivery | None = None
    applicant_name: str = ""
    applicant_phone: str = ""  # sealed (shared.pii): only a notification channel opens it
    notices: int = 0  # 书面告知 issued so far (numbers the next one)
    returned_at: datetime | None = None  # 退件: when (its reason is in ``reasons``)

    def track(self, no: int) -> Track:
        return self.tracks[no - 1]

    def step(self, step_id: str) -> Step:
        found = next((s for s in self.steps if s.step_id == step_id), None)
        if found is None:
            raise Refusal(404, f"办件 {self.case_no} 没有环节 {step_id}")
        return found
