"""What timing consumes (its own views of intake's, routing's and evaluation's events) and publishes.

Views keep only the fields timing reads, with defaults where a publisher may leave one out; a missing
instant falls back to when the event happened. Everything timing publishes carries what it needs to rebuild
its state from ``timing.events`` alone.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

import msgspec

from shared.calendar import Unit


class LimitIn(msgspec.Struct, frozen=True):
    value: float
    unit: Unit


# ---------------------------------------------------------------- intake.events


class ChildIn(msgspec.Struct, frozen=True, kw_only=True):
    """一件事: one item of a bundle, with its own case number, department and limits; stages run in order."""

    case_no: str
    item_code: str = ""
    item_name: str = ""
    department: str = ""
    stage: int = 1
    stage_name: str = ""
    promised_limit: LimitIn
    statutory_limit: LimitIn | None = None
    needs: list[str] = []  # 前后置: it waits for these children's grant (its clock stands still until it opens)


class CaseAccepted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    item_code: str = ""
    item_name: str = ""
    departments: list[str] = []
    promised_limit: LimitIn
    statutory_limit: LimitIn
    accepted_at: datetime
    owner: str = ""  # 首问负责: the accepting clerk
    owner_name: str = ""
    point: str = ""  # the service point (hall) that accepted it: its office hours and alert rules apply
    approving_department: str = ""
    children: list[ChildIn] = []
    cross_province: bool = False  # 跨省通办: the case clock covers only the handover (the catalogue's limit)
    handover_limit: LimitIn | None = None  # that limit, as intake found it in the catalogue at acceptance


class HandedOver(msgspec.Struct, frozen=True, kw_only=True):
    """跨省通办: routing sent the case to the other jurisdiction; the local part (the case clock) ends here."""

    version: ClassVar[int] = 1
    case_no: str = ""
    jurisdiction: str = ""
    handed_over_at: datetime | None = None


class CaseSuspended(msgspec.Struct, frozen=True, kw_only=True):
    """容缺: the 补齐 deadline passed with materials still owed; the case's clocks stop running."""

    version: ClassVar[int] = 1
    case_no: str = ""
    reason: str = ""
    suspended_at: datetime | None = None


class MaterialsSupplemented(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str = ""
    complete: bool = True
    supplemented_at: datetime | None = None


class ClockRequested(msgspec.Struct, frozen=True, kw_only=True):
    """Any other deadline (补齐, 评价期, 整改 …), asked for by intake or evaluation."""

    version: ClassVar[int] = 1
    clock_id: str
    purpose: str
    case_no: str = ""
    department: str = ""
    starts_at: datetime | None = None
    limit: LimitIn
    not_after: datetime | None = None


class ClockWithdrawn(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    clock_id: str
    withdrawn_at: datetime | None = None


# ---------------------------------------------------------------- routing.events


class StepOpened(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    step_id: str
    step_name: str = ""
    department: str = ""
    item_code: str = ""
    item_name: str = ""
    item_case_no: str = ""  # a bundle child's case no (its stage opens with its first step)
    limit: LimitIn | None = None
    opened_at: datetime | None = None


class StepDecided(msgspec.Struct, frozen=True, kw_only=True):
    """通过 / 不予许可 end the step; 退回 (for supplement) stops the case's clocks until ``StepResumed``."""

    version: ClassVar[int] = 1
    step_id: str
    action: str
    item_case_no: str = ""
    decided_at: datetime | None = None


class StepResumed(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    resumed_at: datetime | None = None


class SpecialProcedureStarted(msgspec.Struct, frozen=True, kw_only=True):
    """特别程序 (听证, 检验, 专家评审 …) on a step: the case's clocks stand still until it ends."""

    version: ClassVar[int] = 1
    step_id: str = ""
    kind: str = ""
    reason: str = ""
    started_at: datetime | None = None


class SpecialProcedureEnded(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str = ""
    ended_at: datetime | None = None


class ExtensionApproved(msgspec.Struct, frozen=True, kw_only=True):
    """延长: the named clocks (the step's and its item's; the case's when none is named) run on."""

    version: ClassVar[int] = 1
    step_id: str = ""
    clock_ids: list[str] = []
    extension: LimitIn
    approved_at: datetime | None = None


class ChildCompleted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    child_case_no: str
    completed_at: datetime | None = None


class CaseReturned(msgspec.Struct, frozen=True, kw_only=True):
    """退件: the case ended without a decision (a return's or a 容缺 suspension's limit passed); every clock of it
    stops with that outcome, which is not overdue."""

    version: ClassVar[int] = 1
    case_no: str = ""
    cause: str = ""
    returned_at: datetime | None = None


class CaseCompleted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    completed_at: datetime


# ---------------------------------------------------------------- timing.events (published)


class LimitOut(msgspec.Struct, frozen=True):
    value: float
    unit: Unit


class ClockStarted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    started_at: datetime
    promised_deadline: datetime
    # None when the calendar does not reach the statutory deadline's year yet; the note says which year.
    statutory_deadline: datetime | None
    statutory_note: str = ""
    clock_id: str = ""
    purpose: str = "办件"
    step_id: str = ""
    step_name: str = ""
    parent: str = ""
    department: str = ""
    item_code: str = ""
    item_name: str = ""
    owner: str = ""
    owner_name: str = ""
    hall: str = ""
    promised_limit: LimitOut | None = None
    statutory_limit: LimitOut | None = None
    not_after: datetime | None = None
    warning_at: datetime | None = None
    # The deadline or warning time depends on a year without an official holiday schedule yet (暂定): a
    # provisional calendar of weekends and statutory holidays; revised by DeadlineRevised once it is published.
    provisional: bool = False
    provisional_years: list[int] = []


class ClockPaused(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    clock_id: str
    purpose: str
    case_no: str
    step_id: str = ""
    pause_id: str
    reason: str
    paused_at: datetime


class ClockResumed(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    clock_id: str
    purpose: str
    case_no: str
    step_id: str = ""
    pause_id: str
    resumed_at: datetime
    promised_deadline: datetime
    statutory_deadline: datetime | None = None
    warning_at: datetime | None = None
    # The deadline or warning time depends on a year without an official holiday schedule yet (暂定): a
    # provisional calendar of weekends and statutory holidays; revised by DeadlineRevised once it is published.
    provisional: bool = False
    provisional_years: list[int] = []


class ClockExtended(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    clock_id: str
    purpose: str
    case_no: str
    step_id: str = ""
    limit: LimitOut
    extended_at: datetime
    promised_deadline: datetime
    statutory_deadline: datetime | None = None
    warning_at: datetime | None = None
    # The deadline or warning time depends on a year without an official holiday schedule yet (暂定): a
    # provisional calendar of weekends and statutory holidays; revised by DeadlineRevised once it is published.
    provisional: bool = False
    provisional_years: list[int] = []


class ClockAlerted(msgspec.Struct, frozen=True, kw_only=True):
    """Raised once per clock and level: 预警, 逾期, then each escalation level (督办 …)."""

    version: ClassVar[int] = 1
    clock_id: str
    purpose: str
    case_no: str
    step_id: str = ""
    department: str = ""
    level: str
    deadline: datetime
    due_at: datetime
    fired_at: datetime


class ClockStopped(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    stopped_at: datetime
    promised_deadline: datetime
    on_time: bool
    clock_id: str = ""
    purpose: str = "办件"
    step_id: str = ""
    reason: str = ""
    outcome: str = ""  # 退件: the case ended without a decision; the stop is not counted on time or overdue
    used: float | None = None  # the limit used, in its unit, pauses not counted (None: stopped before 2026-11-30)


class DeadlineRevised(msgspec.Struct, frozen=True, kw_only=True):
    """A year's official schedule replaced its provisional calendar: the clock's deadlines were recomputed.

    Published once per open clock whose deadline, warning time or pause arithmetic touched that year, with
    the old and new times. ``retracted`` names the alert levels raised under the provisional dates that are no
    longer due (they fire again when they are); ``status_before``/``status_after`` are at ``revised_at``.
    """

    version: ClassVar[int] = 1
    clock_id: str
    purpose: str
    case_no: str
    step_id: str = ""
    department: str = ""
    year: int
    source: str = ""
    reason: str = ""
    old_promised_deadline: datetime
    promised_deadline: datetime
    old_warning_at: datetime | None = None
    warning_at: datetime | None = None
    old_statutory_deadline: datetime | None = None
    statutory_deadline: datetime | None = None
    status_before: str = "正常"
    status_after: str = "正常"
    retracted: list[str] = []
    provisional: bool = False  # still provisional: another year it touches has no official schedule yet
    provisional_years: list[int] = []
    revised_at: datetime


class ClockRefused(msgspec.Struct, frozen=True, kw_only=True):
    """No longer published (a year without an official schedule gets a provisional calendar); records from
    before are still read, and the clocks they refused are computed when timing starts."""

    version: ClassVar[int] = 1
    case_no: str
    reason: str
    year: int
    clock_id: str = ""
    purpose: str = "办件"


class CalendarLoaded(msgspec.Struct, frozen=True, kw_only=True):
    """An operator loaded a year's working calendar (``./hall calendar load``); it wins over the package."""

    version: ClassVar[int] = 1
    year: int
    label: str = ""
    holidays: list[date] = []
    local_holidays: list[date] = []
    workdays: list[date] = []
    example: bool = False
    source: str = ""
