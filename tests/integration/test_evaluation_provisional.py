"""A bad review's correction extended into 2027, on the real Kafka and Redis: the extension's deadline is timing's
provisional answer (it used to stay empty when timing refused the year), then follows timing's revision once
2027's official holiday schedule is loaded. The evaluation service runs alone; this test plays the others.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import msgspec
import pytest

from services.evaluation.messages import (
    ClockRequested,
    ExtendCorrection,
    FollowUpChanged,
    SubmitRating,
    VerifyBadReview,
)
from services.timing import messages as timing
from shared import topics
from shared.localtime import LOCAL
from shared.settings import HallSettings
from tests.halls import fresh_settings
from tests.integration.test_evaluation_service import DEPT, KIOSK, STAFF, TAIL, Wire, delivered_case, halt, running
from tests.provisional_events import revised, started

pytestmark = pytest.mark.integration
FIRST_END = datetime(2026, 12, 30, 17, 30, tzinfo=LOCAL)
PROVISIONAL = datetime(2027, 1, 22, 17, 30, tzinfo=LOCAL)
OFFICIAL = datetime(2027, 1, 25, 17, 30, tzinfo=LOCAL)


@pytest.fixture
async def wire(settings: HallSettings) -> AsyncIterator[Wire]:
    fresh = await fresh_settings(settings)
    runtime = await running(fresh)
    wire = Wire(fresh)
    await wire.start()
    try:
        yield wire
    finally:
        await wire.stop()
        await halt(runtime)


async def test_an_extension_into_2027_gets_a_provisional_deadline_that_follows_the_revision(wire: Wire) -> None:
    case_id, case_no = await delivered_case(wire)
    answer = await wire.command(
        SubmitRating(level="不满意", channel="自助终端", anonymous=True, applicant_id_tail=TAIL), case_id, KIOSK
    )
    assert answer.status == 201, answer.reason
    followup_id = msgspec.json.decode(answer.body)["followup_id"]
    first = next(r for r in wire.of(ClockRequested, case_id) if r.purpose == "整改")
    timing_answer = started(
        clock_id=first.clock_id, purpose="整改", case_no=case_no, promised_deadline=FIRST_END, provisional=False
    )
    await wire.publish(topics.TIMING_EVENTS, timing_answer, case_id)
    await wire.wait_for(FollowUpChanged, case_id, count=2)
    correct = VerifyBadReview(followup_id=followup_id, outcome="整改", reply="将增设引导员", department=DEPT)
    assert (await wire.command(correct, case_id, STAFF)).status == 200
    extend = ExtendCorrection(followup_id=followup_id, reason="需招聘引导员", department=DEPT)
    assert (await wire.command(extend, case_id, STAFF)).status == 200
    second = [r for r in await wire.wait_for(ClockRequested, case_id, count=4) if r.purpose == "整改"][1]
    assert second.starts_at == FIRST_END

    # 15 working days from 2026-12-30 reach 2027: timing answers with a provisional deadline.
    extended = started(clock_id=second.clock_id, purpose="整改", case_no=case_no, promised_deadline=PROVISIONAL)
    await wire.publish(topics.TIMING_EVENTS, extended, case_id)
    changes = await wire.wait_for(FollowUpChanged, case_id, count=5)
    latest = changes[-1]
    assert (latest.followup.deadline, latest.followup.deadline_provisional) == (PROVISIONAL, True)
    assert latest.change == "整改期限至 2027-01-22 17:30（暂定，以国务院公布的放假安排为准）"

    # Under the provisional calendar the deadline passed before 2027's schedule was loaded ...
    overdue = timing.ClockAlerted(
        clock_id=second.clock_id,
        purpose="整改",
        case_no=case_no,
        level="逾期",
        deadline=PROVISIONAL,
        due_at=PROVISIONAL,
        fired_at=PROVISIONAL,
    )
    await wire.publish(topics.TIMING_EVENTS, overdue, case_id)
    assert (await wire.wait_for(FollowUpChanged, case_id, count=6))[-1].followup.overdue
    # ... which moved it three days on: no longer overdue.
    revision = revised(
        clock_id=second.clock_id,
        purpose="整改",
        case_no=case_no,
        old_promised_deadline=PROVISIONAL,
        promised_deadline=OFFICIAL,
        retracted=["逾期"],
        revised_at=PROVISIONAL + timedelta(hours=1),
    )
    await wire.publish(topics.TIMING_EVENTS, revision, case_id)
    latest = (await wire.wait_for(FollowUpChanged, case_id, count=7))[-1]
    assert (latest.followup.deadline, latest.followup.deadline_provisional, latest.followup.overdue) == (
        OFFICIAL,
        False,
        False,
    )
    assert latest.change == "整改期限更正：2027-01-22 17:30 → 2027-01-25 17:30（2027 年放假安排已公布）"
