"""The gateway's views of evaluation's events (``evaluation.events``): ratings and bad reviews' follow-ups."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import msgspec


class RatingOpened(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    stage: str
    clerk: str
    item_name: str
    applicant_name: str
    opened_at: datetime


class Charge(msgspec.Struct, frozen=True, kw_only=True):
    """谁办理谁负责: one party a rating counts to (the window or the decision)."""

    to: str
    department: str
    clerk: str = ""
    point: str = ""


class Rater(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    id_number: str = ""
    real_name: bool


class RatingRecorded(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    rating_id: str
    case_no: str
    item_code: str
    item_name: str
    stage: str
    department: str
    clerk: str
    channel: str
    rater: Rater
    level: str
    indicators: dict[str, str]
    text: str
    kind: str
    default: bool
    bad_review: bool
    rated_at: datetime
    charged: list[Charge] = []
    point: str = ""

    def charges(self) -> list[Charge]:
        """Every party the rating counts to (a record from before attribution: its department and clerk)."""
        return self.charged or [Charge(to="", department=self.department, clerk=self.clerk)]


class Visit(msgspec.Struct, frozen=True, kw_only=True):
    method: str
    note: str
    by: str
    at: datetime


class FollowUp(msgspec.Struct, frozen=True, kw_only=True):
    followup_id: str
    case_id: str
    case_no: str
    item_code: str
    item_name: str
    stage: str
    department: str
    clerk: str
    level: str
    text: str
    rater: Rater
    opened_at: datetime
    status: str
    reply: str = ""
    replied_at: datetime | None = None
    appeal_reason: str = ""
    appealed_by: str = ""
    appeal_opinion: str = ""
    deadline: datetime | None = None
    deadline_provisional: bool = False  # 暂定: the correction deadline rests on a year without an official schedule
    extended: bool = False
    extension_reason: str = ""
    overdue: bool = False
    visit: Visit | None = None
    explanation: str = ""
    closed_at: datetime | None = None
    correction_level: str | None = None
    revision: int = 0
    rating_id: str = ""
    appeal_reviewed_by: str = ""
    departments: list[str] = []
    charged: list[Charge] = []
    visit_deadline: datetime | None = None
    visit_deadline_provisional: bool = False
    visit_overdue: bool = False
    extended_from: datetime | None = None

    def charges(self) -> list[Charge]:
        return self.charged or [Charge(to="", department=self.department, clerk=self.clerk)]


class FollowUpChanged(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    change: str
    followup: FollowUp
