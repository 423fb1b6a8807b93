"""Events of a case whose deadlines rest on 2027 before its official holiday schedule is loaded, then revised:
the publishers' own payloads (intake's, routing's, timing's), for the tests of the read models that show them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import msgspec
from aiokafka import AIOKafkaProducer

from services.intake.messages import CaseAccepted, LimitOut
from services.routing.messages import Limit, StepOpened
from services.timing import messages as timing
from shared.clock import SYSTEM_CLOCK
from shared.envelope import Actor, encode, wrap
from shared.localtime import LOCAL
from shared.settings import HallSettings

CLERK = Actor(kind="clerk", id="clerk-zhang", name="张敏")
TIMING = Actor(kind="system", id="timing", name="计时服务")
CASE_ID, CASE_NO, CHILD_NO, STEP_ID = "case-1", "15052520261221000001", "15052520261221000002", "step-1"
ACCEPTED = datetime(2026, 12, 21, 10, 0, tzinfo=LOCAL)
PROVISIONAL = datetime(2027, 1, 4, 17, 30, tzinfo=LOCAL)  # with the provisional calendar
OFFICIAL = datetime(2027, 1, 6, 17, 30, tzinfo=LOCAL)  # once 2027's schedule is loaded
RECEIPT_TEXT = "2027-01-04 17:30（暂定，以国务院公布的放假安排为准）"
OPERATOR_TEXT = "工作日历缺少 2027 年的放假安排，请先导入该年日历（./hall calendar load）"


@contextmanager
def as_of(moment: datetime) -> Iterator[None]:
    """The process's system clock reads ``moment`` now (and runs on from there): the read models judge 正常,
    预警 and 逾期 of this fixed scenario as on the day it happens, whatever the real date."""
    real_now = SYSTEM_CLOCK.now() - SYSTEM_CLOCK.offset
    saved = SYSTEM_CLOCK.offset
    SYSTEM_CLOCK.offset = moment - real_now
    try:
        yield
    finally:
        SYSTEM_CLOCK.offset = saved


SCENARIO_NOW = ACCEPTED + timedelta(hours=1)


def accepted(**changes: Any) -> CaseAccepted:
    fields: dict[str, Any] = {
        "case_no": CASE_NO,
        "item_code": "11150525000118001",
        "item_name": "查封登记",
        "item_version": "2026-01-01",
        "departments": ["自然资源局"],
        "case_type": 2,
        "statutory_limit": LimitOut(20, "WD"),
        "promised_limit": LimitOut(10, "WD"),
        "applicant_name": "赵小红",
        "applicant_id_type": "居民身份证",
        "applicant_id_number": "150525199001011237",
        "channel": "window",
        "accepted_at": ACCEPTED,
        "owner": CLERK.id,
        "owner_name": CLERK.name,
        "point": "hall",
        "point_name": "奈曼旗政务服务中心",
        "point_level": 3,
        "approving_department": "自然资源局",
        "approving_department_uscc": "",
        "approving_level": 3,
    }
    fields.update(changes)
    return CaseAccepted(**fields)


def started(**changes: Any) -> timing.ClockStarted:
    fields: dict[str, Any] = {
        "case_no": CASE_NO,
        "clock_id": CASE_ID,
        "purpose": "办件",
        "started_at": ACCEPTED,
        "promised_deadline": PROVISIONAL,
        "statutory_deadline": PROVISIONAL + timedelta(days=14),
        "warning_at": PROVISIONAL - timedelta(days=1),
        "department": "自然资源局",
        "item_name": "查封登记",
        "owner": CLERK.id,
        "owner_name": CLERK.name,
        "provisional": True,
        "provisional_years": [2027],
    }
    fields.update(changes)
    return timing.ClockStarted(**fields)


def revised(**changes: Any) -> timing.DeadlineRevised:
    fields: dict[str, Any] = {
        "clock_id": CASE_ID,
        "purpose": "办件",
        "case_no": CASE_NO,
        "department": "自然资源局",
        "year": 2027,
        "source": "国办发明电〔2026〕7号",
        "reason": "2027 年放假安排已公布",
        "old_promised_deadline": PROVISIONAL,
        "promised_deadline": OFFICIAL,
        "old_warning_at": PROVISIONAL - timedelta(days=1),
        "warning_at": OFFICIAL - timedelta(days=1),
        "status_before": "正常",
        "status_after": "正常",
        "revised_at": datetime(2026, 12, 28, 9, 0, tzinfo=LOCAL),
    }
    fields.update(changes)
    return timing.DeadlineRevised(**fields)


def step_opened() -> StepOpened:
    return StepOpened(
        case_no=CASE_NO,
        step_id=STEP_ID,
        step_name="承办",
        seq=1,
        department="自然资源局",
        item_code="11150525000118001",
        item_name="查封登记",
        item_case_no=CASE_NO,
        stage=1,
        limit=Limit(3, "WD"),
        opened_at=ACCEPTED,
    )


class Publisher:
    """Publishes the publishers' payloads into a test namespace's topics, as those services would."""

    def __init__(self, settings: HallSettings) -> None:
        self.settings = settings
        self.producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)

    async def __aenter__(self) -> Publisher:
        await self.producer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.producer.stop()

    async def send(self, topic: str, payload: msgspec.Struct, case_id: str = CASE_ID, *, actor: Actor = TIMING) -> None:
        envelope = wrap(payload, case_id=case_id, actor=actor)
        await self.producer.send_and_wait(self.settings.topic(topic), encode(envelope), key=case_id.encode())
