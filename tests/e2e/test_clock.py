"""The processes keep the hall's time, not the machine's: they share this process's clock offset
(``HALL_CLOCK_OFFSET_S``, which ``./hall test --today`` sets), so a case is numbered with the hall's date and its
acceptance is stamped with the hall's time."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from deploy.processes import Launcher
from shared.clock import OFFSET_VARIABLE, SYSTEM_CLOCK, configured_offset
from shared.localtime import LOCAL
from tests.journeys import state, submit

pytestmark = pytest.mark.e2e


async def test_the_processes_number_and_stamp_a_case_on_the_halls_clock(
    processes: Launcher, gateway: httpx.AsyncClient
) -> None:
    assert float(processes.env.get(OFFSET_VARIABLE) or 0) == configured_offset().total_seconds()
    before = SYSTEM_CLOCK.now()
    case_no = await submit(gateway)
    after = SYSTEM_CLOCK.now()
    # Region, the hall's date (either side of a midnight the submission may straddle), a sequence.
    assert case_no[6:14] in {f"{before.astimezone(LOCAL):%Y%m%d}", f"{after.astimezone(LOCAL):%Y%m%d}"}
    case = await state(gateway, case_no, "办理中")
    accepted = next(e for e in case["timeline"] if e["type"] == "CaseAccepted.v1")
    stamped = datetime.fromisoformat(accepted["at"])
    # The stamp comes from intake's process: a second of slack either side for the round trip.
    assert before - timedelta(seconds=1) <= stamped <= after + timedelta(seconds=1)
