"""What evaluation consumes (its own views of intake's and routing's events) and publishes."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import msgspec

Level = Literal["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
Channel = Literal["评价器", "自助终端", "PC", "移动端", "二维码", "短信", "电话", "系统默认"]
BAD: frozenset[str] = frozenset({"不满意", "非常不满意"})


class CaseAccepted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    item_code: str
    item_name: str
    departments: list[str]


class CaseDelivered(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    delivered_at: datetime


class SubmitRating(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    level: Level
    channel: Channel
    text: str = ""


class RatingRecorded(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    item_code: str
    departments: list[str]
    clerk: str
    level: Level
    channel: Channel
    text: str
    bad_review: bool
    rated_at: datetime
