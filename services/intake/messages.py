"""What intake consumes and publishes. Other services keep their own copies of the fields they read."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import msgspec

Channel = Literal["window", "kiosk", "web", "mobile"]
Unit = Literal["WD", "WH", "ND", "NH"]


class Applicant(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    id_type: Literal["居民身份证", "统一社会信用代码", "其他"]
    id_number: str


class SubmitApplication(msgspec.Struct, frozen=True, kw_only=True):
    """申报: an application for one catalogue item, from a window clerk, a kiosk or the web."""

    version: ClassVar[int] = 1
    item_code: str
    applicant: Applicant
    materials: list[str]
    channel: Channel = "window"


class LimitOut(msgspec.Struct, frozen=True):
    value: float
    unit: Unit


class CaseAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """受理: the case is numbered and owned by the accepting clerk (首问负责)."""

    version: ClassVar[int] = 1
    case_no: str
    item_code: str
    item_name: str
    item_version: str
    departments: list[str]
    case_type: int
    statutory_limit: LimitOut
    promised_limit: LimitOut
    applicant_name: str
    channel: Channel
    accepted_at: datetime


class MissingMaterial(msgspec.Struct, frozen=True):
    code: str
    name: str
    reason: str


class ApplicationOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """The reply to the clerk: the case number, or everything that is missing at once (一次告知)."""

    outcome: Literal["受理", "待补正"]
    case_id: str
    case_no: str = ""
    item_name: str = ""
    missing: list[MissingMaterial] = []
