"""工程建设项目 as the gateway shows them: each project, its stages' cases, clocks and results, and its budget.

Keys (the gateway's own, rebuilt from the events topics like every read model):

- ``project:<code>`` a hash: ``project`` (the registration), ``applied:<n>`` (stage n's latest case, from
  ``CaseAccepted``), ``done:<n>`` (its result, from intake's ``ProjectStageCompleted``); each event writes its own
  field, so they may arrive in any order across topics. A result counts only for the stage's latest case.
- ``project-clock:<case_no>`` a hash: the stage case's clock from timing (started, deadline, stopped, used).
  Only clocks of the catalogue's stage bundles are kept (``ClockStarted.item_code``).
- ``projects`` a sorted set of project codes by registration time: the paginated list; ``projects:active`` those
  with a stage under way, by when it was applied for (the SLA board's section).

The budget (审批时限, 60 working days for the four stages of a 房屋建筑 project) counts approval time only: each
stage's working days used as timing measured them on its own clock (pauses not counted); the time between stages
is the builder's and never counts.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

import msgspec
from redis.asyncio import Redis

from services.gateway.views import intake, timing
from shared.catalogue import Catalogue, load_catalogue
from shared.envelope import Envelope
from shared.kafka import HandlerTable, Route
from shared.outbox import Txn
from shared.settings import HallSettings

CASE_PURPOSE = "办件"


class Applied(msgspec.Struct, frozen=True, kw_only=True):
    case_no: str
    case_id: str
    applied_at: datetime


class Clock(msgspec.Struct, frozen=True, kw_only=True):
    started_at: datetime
    deadline: datetime


class Stopped(msgspec.Struct, frozen=True, kw_only=True):
    stopped_at: datetime
    on_time: bool
    used: float | None = None


class StageView(msgspec.Struct, kw_only=True):
    """One stage of a project: its state (未申报 / 审批中 / 准予 / 不予), times, working days and results."""

    stage: int
    name: str
    bundle_code: str
    promised_limit: intake.Limit
    state: str
    case_no: str = ""
    applied_at: datetime | None = None
    deadline: datetime | None = None
    completed_at: datetime | None = None
    used: float | None = None  # working days the stage's own clock used (pauses not counted)
    on_time: bool | None = None
    result: str = ""
    reasons: list[str] = []
    licences: list[intake.StageLicence] = []
    reuses: list[str] = []


class ProjectView(msgspec.Struct, kw_only=True):
    """A project with its stages and its approval budget: ``used`` by the finished stages, ``running`` the limits
    of stages under way, ``remaining`` = budget − used."""

    project_code: str
    name: str
    builder: str
    builder_uscc: str
    location: str
    project_type: str
    type_name: str
    registered_at: datetime
    registered_by_name: str
    budget: intake.Limit
    used: float
    running: float
    remaining: float
    current: str  # what the project waits for, in words
    stages: list[StageView]


class ProjectList(msgspec.Struct, kw_only=True):
    projects: list[ProjectView]
    total: int
    page: int
    size: int


_registered = msgspec.json.Decoder(intake.ProjectRegistered)
_applied = msgspec.json.Decoder(Applied)
_done = msgspec.json.Decoder(intake.ProjectStageCompleted)
_clock = msgspec.json.Decoder(Clock)
_stopped = msgspec.json.Decoder(Stopped)


def _state(applied: Applied | None, done: intake.ProjectStageCompleted | None) -> str:
    if applied is None:
        return "未申报"
    if done is None:
        return "审批中"
    return done.result


def _current(stages: list[StageView]) -> str:
    running = [s for s in stages if s.state == "审批中"]
    if running:
        return f"第{running[0].stage}阶段“{running[0].name}”审批中"
    refused = [s for s in stages if s.state not in ("准予", "未申报", "审批中")]
    if refused:
        return f"第{refused[-1].stage}阶段“{refused[-1].name}”{refused[-1].state}许可，可重新申报"
    waiting = next((s for s in stages if s.state == "未申报"), None)
    if waiting is None:
        return "全部阶段已准予"
    if waiting.stage == 1:
        return f"待申报第1阶段“{waiting.name}”"
    return f"待申报第{waiting.stage}阶段“{waiting.name}”（建设单位准备中，不计审批时间）"


class Projects:
    def __init__(self, settings: HallSettings, catalogue: Catalogue | None = None) -> None:
        self.settings = settings
        self.catalogue = catalogue or load_catalogue()
        self.stage_bundles = {
            s.bundle for kind in self.catalogue.project_types.values() for s in kind.stages
        }  # the bundles whose cases' clocks the project pages keep

    def key(self, *parts: str) -> str:
        return self.settings.key("gateway", *parts)

    def table(self) -> HandlerTable:
        return {
            "ProjectRegistered.v1": Route(intake.ProjectRegistered, self.registered),
            "ProjectStageCompleted.v1": Route(intake.ProjectStageCompleted, self.stage_completed),
            "CaseAccepted.v1": Route(intake.CaseAccepted, self.case_accepted),
            "ClockStarted.v1": Route(timing.ClockStarted, self.clock_started),
            "ClockStopped.v1": Route(timing.ClockStopped, self.clock_stopped),
            "ClockResumed.v1": Route(timing.ClockResumed, self.clock_moved),
            "ClockExtended.v1": Route(timing.ClockExtended, self.clock_moved),
            "DeadlineRevised.v1": Route(timing.DeadlineRevised, self.clock_moved),
        }

    # ---------------------------------------------------------------- events

    async def registered(self, _: Envelope, event: intake.ProjectRegistered, txn: Txn) -> None:
        key, index, code = self.key("project", event.project_code), self.key("projects"), event.project_code
        raw, score = msgspec.json.encode(event), event.registered_at.timestamp()
        txn.write(lambda pipe: pipe.hset(key, "project", raw))
        txn.write(lambda pipe: pipe.zadd(index, {code: score}))

    async def case_accepted(self, env: Envelope, event: intake.CaseAccepted, txn: Txn) -> None:
        if not event.project_code or event.project_stage < 1:
            return
        key, field = self.key("project", event.project_code), f"applied:{event.project_stage}"
        raw = msgspec.json.encode(Applied(case_no=event.case_no, case_id=env.case_id, applied_at=event.accepted_at))
        txn.write(lambda pipe: pipe.hset(key, field, raw))
        active, code, score = self.key("projects", "active"), event.project_code, event.accepted_at.timestamp()
        txn.write(lambda pipe: pipe.zadd(active, {code: score}))

    async def stage_completed(self, _: Envelope, event: intake.ProjectStageCompleted, txn: Txn) -> None:
        key, field, raw = self.key("project", event.project_code), f"done:{event.stage}", msgspec.json.encode(event)
        txn.write(lambda pipe: pipe.hset(key, field, raw))
        later = [f for f in await txn.hgetall(key) if f.startswith(b"applied:") and int(f[8:]) > event.stage]
        if not later:  # no later stage under way: the project waits for the builder
            active, code = self.key("projects", "active"), event.project_code
            txn.write(lambda pipe: pipe.zrem(active, code))

    async def clock_started(self, _: Envelope, event: timing.ClockStarted, txn: Txn) -> None:
        if event.purpose != CASE_PURPOSE or event.item_code not in self.stage_bundles:
            return
        key = self.key("project-clock", event.case_no)
        raw = msgspec.json.encode(Clock(started_at=event.started_at, deadline=event.promised_deadline))
        txn.write(lambda pipe: pipe.hset(key, "clock", raw))

    async def clock_moved(self, _: Envelope, event: timing.ClockMoved, txn: Txn) -> None:
        if event.purpose != CASE_PURPOSE:
            return
        key = self.key("project-clock", event.case_no)
        fields = await txn.hgetall(key)
        if b"clock" not in fields:
            return  # not a stage's clock
        clock = _clock.decode(fields[b"clock"])
        moved = msgspec.json.encode(msgspec.structs.replace(clock, deadline=event.promised_deadline))
        txn.write(lambda pipe: pipe.hset(key, "clock", moved))

    async def clock_stopped(self, _: Envelope, event: timing.ClockStopped, txn: Txn) -> None:
        if event.purpose != CASE_PURPOSE:
            return
        key = self.key("project-clock", event.case_no)
        if b"clock" not in await txn.hgetall(key):
            return  # not a stage's clock (its ClockStarted came first, on the same partition)
        raw = msgspec.json.encode(Stopped(stopped_at=event.stopped_at, on_time=event.on_time, used=event.used))
        txn.write(lambda pipe: pipe.hset(key, "stopped", raw))

    # ---------------------------------------------------------------- reads

    async def get(self, redis: Redis, code: str) -> ProjectView | None:
        fields = cast("dict[bytes, bytes]", await redis.hgetall(self.key("project", code)))
        if b"project" not in fields:
            return None
        project = _registered.decode(fields[b"project"])
        stages = []
        for stage in project.stages:
            applied_raw = fields.get(f"applied:{stage.stage}".encode())
            done_raw = fields.get(f"done:{stage.stage}".encode())
            applied = _applied.decode(applied_raw) if applied_raw else None
            done = _done.decode(done_raw) if done_raw else None
            if done is not None and (applied is None or done.case_no != applied.case_no):
                done = None  # the result of an earlier, refused case of the stage
            clock_fields = (
                cast("dict[bytes, bytes]", await redis.hgetall(self.key("project-clock", applied.case_no)))
                if applied
                else {}
            )
            clock = _clock.decode(clock_fields[b"clock"]) if b"clock" in clock_fields else None
            stopped = _stopped.decode(clock_fields[b"stopped"]) if b"stopped" in clock_fields else None
            stages.append(
                StageView(
                    stage=stage.stage,
                    name=stage.name,
                    bundle_code=stage.bundle_code,
                    promised_limit=stage.promised_limit,
                    state=_state(applied, done),
                    case_no=applied.case_no if applied else "",
                    applied_at=applied.applied_at if applied else None,
                    deadline=clock.deadline if clock else None,
                    completed_at=done.completed_at if done else None,
                    used=stopped.used if stopped and done else None,
                    on_time=stopped.on_time if stopped and done else None,
                    result=done.result if done else "",
                    reasons=done.reasons if done else [],
                    licences=done.licences if done else [],
                    reuses=stage.reuses,
                )
            )
        used = round(sum(s.used or 0.0 for s in stages), 3)
        running = sum(s.promised_limit.value for s in stages if s.state == "审批中")
        return ProjectView(
            project_code=project.project_code,
            name=project.name,
            builder=project.builder,
            builder_uscc=project.builder_uscc,
            location=project.location,
            project_type=project.project_type,
            type_name=project.type_name,
            registered_at=project.registered_at,
            registered_by_name=project.registered_by_name,
            budget=project.budget,
            used=used,
            running=running,
            remaining=round(project.budget.value - used, 3),
            current=_current(stages),
            stages=stages,
        )

    async def page(self, redis: Redis, page: int, size: int) -> tuple[list[ProjectView], int]:
        """One page of projects, the latest registered first (the index, never a scan)."""
        index = self.key("projects")
        total = int(await redis.zcard(index))
        codes = cast("list[bytes]", await redis.zrevrange(index, (page - 1) * size, page * size - 1))
        found = [await self.get(redis, code.decode()) for code in codes]
        return [p for p in found if p is not None], total

    async def active(self, redis: Redis, most: int = 20) -> list[ProjectView]:
        """The projects with a stage under way, the longest waiting first (at most ``most``)."""
        codes = cast("list[bytes]", await redis.zrange(self.key("projects", "active"), 0, most - 1))
        found = [await self.get(redis, code.decode()) for code in codes]
        return [p for p in found if p is not None]

    async def of_case(self, redis: Redis, code: str, case_no: str) -> ProjectView | None:
        """The project a stage's case belongs to (the SLA case page)."""
        project = await self.get(redis, code)
        return project if project and any(s.case_no == case_no for s in project.stages) else None
