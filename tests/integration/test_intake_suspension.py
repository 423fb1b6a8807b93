"""容缺: a missed 补齐 deadline (timing's 逾期 alert on intake's clock) suspends the case and tells the applicant;
bringing the materials ends the suspension. Time is moved with a ManualClock, never slept."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from stdnum.cn import ric

from shared.clock import SYSTEM_CLOCK, ManualClock
from shared.settings import HallSettings
from tests.halls import InProcessHall, fresh_settings, in_process_hall
from tests.journeys import CLERK
from tests.support import eventually

pytestmark = pytest.mark.integration

QUALIFICATION = "11150525000120006"  # 建设工程企业资质: M03, M04 可容缺


async def dossier(hall: InProcessHall, case_no: str, wanted: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        response = await hall.client.get(f"/api/cases/{case_no}", headers=CLERK)
        found: dict[str, Any] | None = response.json()["dossier"] if response.status_code == 200 else None
        return found if found and found.get(wanted) else None

    return await eventually(probe)


async def test_a_missed_supplement_deadline_suspends_the_case_and_the_materials_resume_it(
    settings: HallSettings,
) -> None:
    clock = ManualClock(SYSTEM_CLOCK.now())
    async with in_process_hall(await fresh_settings(settings), clock=clock) as hall:
        digits = "15052519900101200"
        applicant = {
            "name": "某建筑公司",
            "id_type": "居民身份证",
            "id_number": digits + ric.calc_check_digit(digits + "0"),
        }
        body = {
            "item_code": QUALIFICATION,
            "applicant": applicant,
            "materials": ["M01", "M02", "M05"],
            "deferral_signed": True,
            "supplement_limit": {"value": 1, "unit": "WD"},
        }
        response = await hall.client.post("/api/cases", json=body, headers=CLERK)
        assert response.status_code == 201, response.text
        case_no = response.json()["case_no"]
        case = await dossier(hall, case_no, "supplement_deadline")
        assert case["suspended"] == ""

        clock.set(datetime.fromisoformat(case["supplement_deadline"]) + timedelta(minutes=1))
        case = await dossier(hall, case_no, "suspended")
        assert "技术负责人职称证书" in case["suspended"]
        assert "已中止办理" in case["suspended"]
        timeline = (await hall.client.get(f"/api/cases/{case_no}", headers=CLERK)).json()["timeline"]
        suspended = [e for e in timeline if e["type"] == "CaseSuspended.v1"]
        assert len(suspended) == 1
        assert "中止办理：容缺材料逾期未补齐" in suspended[0]["summary"]
        assert suspended[0]["actor"]["kind"] == "system"

        done = await hall.client.post(
            f"/api/cases/{case_no}/materials", json={"materials": ["M03", "M04"]}, headers=CLERK
        )
        assert done.status_code == 200, done.text
        assert done.json()["complete"] is True

        async def resumed() -> dict[str, Any] | None:
            found = await dossier(hall, case_no, "case_no")
            return found if found["suspended"] == "" and found["owed"] == [] else None

        await eventually(resumed)
        # A later alert on the same clock changes nothing: the case owes nothing now.
        clock.advance(timedelta(days=3))
        timeline = (await hall.client.get(f"/api/cases/{case_no}", headers=CLERK)).json()["timeline"]
        assert [e["type"] for e in timeline].count("CaseSuspended.v1") == 1
