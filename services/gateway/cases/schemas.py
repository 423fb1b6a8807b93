"""Request and response bodies for cases, and the commands the gateway publishes for them."""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

from services.gateway.cases.timeline import TimelineEntry
from services.gateway.context import In


class ApplicantIn(In, frozen=True, forbid_unknown_fields=True):
    name: str
    id_type: Literal["居民身份证", "统一社会信用代码", "其他"]
    id_number: str


class ApplicationIn(In, frozen=True, forbid_unknown_fields=True):
    item_code: str
    applicant: ApplicantIn
    materials: list[str]
    channel: Literal["window", "kiosk", "web", "mobile"] = "window"


class DeliveryIn(In, frozen=True, forbid_unknown_fields=True):
    method: Literal["窗口", "邮寄"]


class RatingIn(In, frozen=True, forbid_unknown_fields=True):
    level: Literal["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    channel: Literal["评价器", "自助终端", "PC", "移动端", "二维码", "短信", "电话"]
    text: str = ""


class CaseView(msgspec.Struct, frozen=True, kw_only=True):
    case_id: str
    case_no: str
    state: str
    timeline: list[TimelineEntry]


# Commands as published to Kafka: the gateway's own copies of what the owning services accept.


class SubmitApplication(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    item_code: str
    applicant: ApplicantIn
    materials: list[str]
    channel: str


class RecordDelivery(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    method: str


class SubmitRating(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    level: str
    channel: str
    text: str
