"""就近办 across the three levels, through the gateway's API on the real Kafka and Redis.

A village point (嘎查村便民服务站, level 6) accepts every item; what is beyond its powers goes up to the item's
implementing subject: a banner (level 4) item to the banner department, a town (level 5) item to the town
government. A village (level 6) item is handled and decided at the village itself, by the village committee's
people (承办, 审核 and 决定 by three of them), and the banner departments never see it.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest
from stdnum.cn import ric

from shared.catalogue import load_catalogue
from tests.integration.conftest import InProcessHall
from tests.journeys import auth, inbox_steps, state
from tests.support import eventually

pytestmark = pytest.mark.integration

CATALOGUE = load_catalogue()
SEAL = "11150525000118001"  # 查封登记: level 4, 自然资源局
RELIEF = "11150525000300002"  # 临时救助: level 5, 大沁他拉镇人民政府
RESIDENCE = "11150525000310001"  # 嘎查村民居住情况证明: level 6, 白音他拉嘎查村民委员会
RELIEF_BUNDLE = "11150525YJS0009"  # 困难群众救助: town 初审 → 民政局 审核确认 → 医保局 医疗救助
TOWN, VILLAGE = "大沁他拉镇人民政府", "白音他拉嘎查村民委员会"
# 岗位分离: 承办, 审核, 决定 by three different people of the implementing subject, at its own point.
TOWN_HANDLERS = ("town-bao", "town-li", "town-boss")
VILLAGE_HANDLERS = ("village-hu", "village-wang", "village-boss")
VILLAGE_CLERK = auth("clerk-village")
_serial = itertools.count(300)


def an_id() -> str:
    body = f"15052519610203{next(_serial) % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


async def accept_at_village(client: httpx.AsyncClient, item: str, materials: list[str]) -> str:
    application = {
        "item_code": item,
        "applicant": {"name": "其木格", "id_type": "居民身份证", "id_number": an_id()},
        "materials": materials,
    }
    response = await client.post("/api/cases", json=application, headers=VILLAGE_CLERK)
    assert response.status_code == 201, response.text
    assert response.json()["point_name"] == "白音他拉嘎查便民服务站"
    case_no: str = response.json()["case_no"]
    return case_no


async def inbox(client: httpx.AsyncClient, department: str, user: str, case_no: str) -> list[dict[str, Any]]:
    return [
        s
        for s in await inbox_steps(client, f"/api/departments/{department}/steps", auth(user))
        if s["case_no"] == case_no and not s["waiting"]
    ]


async def open_step(client: httpx.AsyncClient, department: str, user: str, case_no: str, name: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        steps = [s for s in await inbox(client, department, user, case_no) if s["step_name"] == name]
        return steps[0] if steps else None

    return await eventually(probe)


async def decide_all(client: httpx.AsyncClient, department: str, handlers: tuple[str, ...], case_no: str) -> None:
    """承办 → 审核 → 决定, each by the next of ``handlers``, each step in ``department``'s own inbox."""
    for name, user in zip(("承办", "审核", "决定"), handlers, strict=True):
        step = await open_step(client, department, user, case_no, name)
        assert step["department"] == department
        decision = {"action": "通过", "opinion": "同意"}
        decided = await client.post(f"/api/steps/{step['step_id']}/decision", json=decision, headers=auth(user))
        assert decided.status_code in (200, 202), decided.text


async def dossier(client: httpx.AsyncClient, case_no: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        response = await client.get(f"/api/cases/{case_no}", headers=VILLAGE_CLERK)
        found: dict[str, Any] | None = response.json()["dossier"] if response.status_code == 200 else None
        return found if found and found.get("case_no") else None

    return await eventually(probe)


def test_the_items_of_these_tests_are_at_the_levels_they_claim() -> None:
    levels = {code: (CATALOGUE.get(code) or pytest.fail(code)).level for code in (SEAL, RELIEF, RESIDENCE)}
    assert levels == {SEAL: 4, RELIEF: 5, RESIDENCE: 6}


async def test_a_banner_item_accepted_at_a_village_goes_to_the_banner_department(hall: InProcessHall) -> None:
    client = hall.client
    case_no = await accept_at_village(client, SEAL, ["M01", "M02"])
    step = await open_step(client, "自然资源局", "zrzy-li", case_no, "承办")
    assert (step["department"], step["point"]) == ("自然资源局", "village-bytl")
    case = await dossier(client, case_no)
    assert (case["point_level"], case["approving_department"]) == (6, "自然资源局")
    # The village committee holds no step of it and may not open the banner department's inbox.
    assert await inbox(client, VILLAGE, "village-hu", case_no) == []
    refused = await client.get("/api/departments/自然资源局/steps", headers=auth("village-hu"))
    assert refused.status_code == 403, refused.text


async def test_a_town_item_accepted_at_a_village_goes_up_to_the_town_and_is_decided_there(
    hall: InProcessHall,
) -> None:
    client = hall.client
    case_no = await accept_at_village(client, RELIEF, ["M01", "M02", "M03"])
    case = await dossier(client, case_no)
    assert (case["point_level"], case["approving_department"]) == (6, TOWN)
    assert await inbox(client, VILLAGE, "village-hu", case_no) == []
    await decide_all(client, TOWN, TOWN_HANDLERS, case_no)
    await state(client, case_no, "已办结")


async def test_a_village_item_is_handled_and_decided_at_the_village(hall: InProcessHall) -> None:
    client = hall.client
    case_no = await accept_at_village(client, RESIDENCE, ["M01"])
    case = await dossier(client, case_no)
    assert (case["point_level"], case["approving_department"]) == (6, VILLAGE)
    first = await open_step(client, VILLAGE, "village-hu", case_no, "承办")
    assert first["point"] == "village-bytl"
    # The banner's departments neither hold a step of it nor may open the village committee's inbox.
    assert await inbox(client, "自然资源局", "zrzy-li", case_no) == []
    refused = await client.get(f"/api/departments/{VILLAGE}/steps", headers=auth("zrzy-li"))
    assert refused.status_code == 403, refused.text
    await decide_all(client, VILLAGE, VILLAGE_HANDLERS, case_no)
    done = await state(client, case_no, "已办结")
    assert done["state"] == "已办结"


async def test_a_bundle_across_levels_opens_its_town_stage_first(hall: InProcessHall) -> None:
    """困难群众救助: the town's 初审 (level 5) is the first stage; the banner's 审核确认 waits for it."""
    client = hall.client
    form = (await client.get(f"/api/catalogue/{RELIEF_BUNDLE}", headers=VILLAGE_CLERK)).json()
    case_no = await accept_at_village(client, RELIEF_BUNDLE, [m["code"] for m in form["materials"]])
    step = await open_step(client, TOWN, "town-bao", case_no, "承办")
    assert (step["stage"], step["item_case_no"]) == (1, f"{case_no}-01")
    assert await inbox(client, "民政局", "mz-han", case_no) == []
