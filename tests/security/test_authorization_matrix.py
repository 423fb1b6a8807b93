"""The authorization matrix, generated from the one table (services/gateway/access.py).

Every role (a clerk of the banner hall, of a town and of a village point; staff of the cases' department, the
step's claimant and a colleague; staff of another department; a supervisor; a kiosk; a pad; an operator; nobody)
× every API action of the table × each object (cases accepted at the hall, the town and the village; a claimed and
an unclaimed step; two departments; a bad review). The expectation comes from the table's rule for the role,
applied to what the test knows of the object: allowed means any answer but 401/403/404 (the owning service may
still refuse with 409/422: a case not yet done cannot be delivered), refused means 403 or 404 (401 for nobody,
who may only look a case up with the applicant's ID: access.PUBLIC). The few objects are made once; the probes
change nothing (they are refused, or ask for what is not due yet).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from services.gateway.access import BANNER_HALL, PUBLIC, TABLE, Action, Rule, markdown
from services.gateway.users import User
from tests.halls import InProcessHall
from tests.journeys import _DIRECTORY, APPLICATION, ITEM, auth, open_step
from tests.support import eventually

pytestmark = pytest.mark.integration

ID_NUMBER: str = APPLICATION["applicant"]["id_number"]
APPLICANT = {"name": "赵小红", "id_type": "居民身份证", "id_number": ID_NUMBER}
CALLERS = (
    "clerk-zhang",  # banner hall
    "clerk-town",
    "clerk-village",
    "zrzy-li",  # 自然资源局: every case's department, claimant of the hall case's step
    "zrzy-sun",  # 自然资源局, not the claimant
    "zj-zhao",  # 住建局: another department
    "zrzy-boss",
    "hall-boss",  # 政务服务管理机构 (行政审批和政务服务局, the window's department)
    "kiosk-01",
    "pad-01",
    "op-qian",
    "",  # nobody signed in
)


@dataclass(frozen=True)
class Case:
    case_no: str
    point: str
    owner: str
    departments: frozenset[str]


@dataclass(frozen=True)
class Step:
    step_id: str
    case: Case
    department: str
    claimant: str


@dataclass(frozen=True)
class Department:
    name: str


@dataclass(frozen=True)
class FollowUp:
    followup_id: str
    department: str


Obj = Case | Step | Department | FollowUp | None


@dataclass
class World:
    cases: list[Case]
    steps: list[Step]
    departments: list[Department]
    followups: list[FollowUp]


def _case(obj: Obj) -> Case:
    case = obj.case if isinstance(obj, Step) else obj
    assert isinstance(case, Case)
    return case


def _department(obj: Obj) -> str:
    assert isinstance(obj, Step | Department | FollowUp)
    return obj.name if isinstance(obj, Department) else obj.department


# Each rule of the table, as this test understands it, on what the test knows of the object.
CHECKS: dict[Rule, Callable[[User, Obj], bool]] = {
    Rule.OWN_POINT: lambda u, o: u.point in (BANNER_HALL, _case(o).point) or _case(o).owner == u.id,
    Rule.CASE_DEPARTMENT: lambda u, o: u.department in _case(o).departments,
    Rule.OWN_DEPARTMENT: lambda u, o: u.department == _department(o),
    Rule.CLAIMANT: lambda u, o: isinstance(o, Step) and u.department == o.department and o.claimant == u.id,
    Rule.NOT_RATED: lambda u, o: u.department != _department(o),
}


def allowed(user: User, action: Action, obj: Obj) -> bool:
    """The table's rule for the user's role, applied to the object.

    A list or a form without an object: the role decides (lists show only what the role may see). APPLICANT_ID:
    the probes carry the applicant's ID. PAIRED: evaluation pairs the pad with its window (the probes ask for a
    service not open for rating yet, refused with 409 whoever is paired).
    """
    rule = TABLE[action].get(user.role)
    if rule is None:
        return False
    if obj is None or rule in (Rule.ANY, Rule.APPLICANT_ID, Rule.PAIRED):
        return True
    return CHECKS[rule](user, obj)


@dataclass(frozen=True)
class Probe:
    action: Action
    method: str
    path: Callable[[Any], str]
    body: Callable[[User | None, Any], Any] | None = None
    objects: str = ""  # "cases", "steps", "departments", "followups" or "" (none)
    gate: Action | None = None  # a route that first admits the roles of another action (by role alone)
    denied: tuple[int, ...] = (403, 404)  # how a role without the action is refused


def rating_body(user: User | None, _obj: Any) -> dict[str, Any]:
    channel = {"pad": "评价器", "operator": "电话"}.get(user.role if user else "", "自助终端")
    body: dict[str, Any] = {"level": "满意", "channel": channel, "stage": "办结"}
    if channel == "自助终端":
        body["applicant_id_tail"] = ID_NUMBER[-6:]
    return body


def application(**extra: Any) -> Callable[[User | None, Any], dict[str, Any]]:
    return lambda _u, _o: {"item_code": ITEM, "applicant": APPLICANT, "materials": ["M01", "M02"], **extra}


PROBES = (
    Probe(Action.SUBMIT, "POST", lambda _o: "/api/cases", application()),
    # A kiosk (a role that may submit) sending refusal_reason: 400 naming the field (it only submits for 预审).
    Probe(
        Action.REFUSE,
        "POST",
        lambda _o: "/api/cases",
        application(refusal_reason="不属于本机关受理范围"),
        denied=(400, 403),
    ),
    Probe(Action.PREREVIEW, "GET", lambda _o: "/api/prereviews"),
    Probe(Action.CASE_READ, "GET", lambda c: f"/api/cases/{c.case_no}", objects="cases"),
    Probe(Action.CASE_READ, "GET", lambda c: f"/api/sla/cases/{c.case_no}", objects="cases", gate=Action.SLA),
    Probe(
        Action.LOOKUP,
        "GET",
        lambda c: f"/api/lookup?case_no={c.case_no}&id_number={ID_NUMBER}",
        objects="cases",
    ),
    Probe(
        Action.SUPPLEMENT,
        "POST",
        lambda c: f"/api/cases/{c.case_no}/materials",
        lambda _u, _c: {"materials": ["M01"], "id_number": ID_NUMBER},
        objects="cases",
    ),
    Probe(Action.DELIVERIES, "GET", lambda _o: "/api/deliveries"),
    Probe(
        Action.DELIVER,
        "POST",
        lambda c: f"/api/deliveries/{c.case_no}",
        lambda _u, _c: {"method": "窗口"},
        objects="cases",
    ),
    Probe(Action.RATE, "POST", lambda c: f"/api/cases/{c.case_no}/ratings", rating_body, objects="cases"),
    Probe(Action.RATINGS_READ, "GET", lambda c: f"/api/cases/{c.case_no}/ratings", objects="cases"),
    Probe(
        Action.RATING_LINK,
        "POST",
        lambda c: f"/api/cases/{c.case_no}/rating-links",
        lambda _u, _c: {"stage": "办结", "channel": "短信"},
        objects="cases",
    ),
    Probe(Action.PAD, "GET", lambda _o: "/api/pad/current"),
    Probe(
        Action.PAD,
        "POST",
        lambda _c: "/api/pad/ratings",
        lambda _u, c: {"case_no": c.case_no, "level": "满意", "stage": "办结"},
        objects="cases",
    ),
    Probe(Action.INBOX, "GET", lambda d: f"/api/departments/{quote(d.name)}/steps", objects="departments"),
    Probe(Action.ESCALATIONS, "GET", lambda d: f"/api/departments/{quote(d.name)}/escalations", objects="departments"),
    Probe(Action.STEP_READ, "GET", lambda s: f"/api/steps/{s.step_id}", objects="steps"),
    Probe(
        Action.STEP_ACT,
        "POST",
        lambda s: f"/api/steps/{s.step_id}/resume",
        lambda _u, _s: {"opinion": "无需恢复"},
        objects="steps",
    ),
    Probe(
        Action.SPECIAL,
        "POST",
        lambda s: f"/api/steps/{s.step_id}/special-procedure/end",
        lambda _u, _s: {"result": "鉴定完成"},
        objects="steps",
    ),
    Probe(
        Action.EXTENSION_DECIDE,
        "POST",
        lambda s: f"/api/steps/{s.step_id}/extension/decision",
        lambda _u, _s: {"approve": True, "opinion": "同意"},
        objects="steps",
    ),
    Probe(Action.FOLLOWUP, "GET", lambda _o: "/api/ratings/followups"),
    Probe(Action.FOLLOWUP, "GET", lambda f: f"/api/ratings/followups/{f.followup_id}", objects="followups"),
    Probe(
        Action.APPEAL_REVIEW,
        "POST",
        lambda f: f"/api/ratings/followups/{f.followup_id}/appeal-review",
        lambda _u, _f: {"upheld": True, "opinion": "申诉成立"},
        objects="followups",
    ),
    Probe(Action.STATS, "GET", lambda _o: "/api/ratings/stats"),
    Probe(Action.SLA, "GET", lambda _o: "/api/sla/board"),
    Probe(Action.SLA, "GET", lambda _o: "/api/sla/lists/overdue"),
    Probe(Action.SLA_EXPORT, "GET", lambda _o: "/api/sla/board/export?format=csv"),
    Probe(Action.STATS_EXPORT, "GET", lambda _o: "/api/ratings/stats/export?format=xlsx"),
    Probe(Action.FOLLOWUP_EXPORT, "GET", lambda _o: "/api/ratings/followups/export?format=csv"),
    Probe(Action.CATALOGUE, "GET", lambda _o: "/api/catalogue?q=查封"),
    Probe(Action.CATALOGUE, "GET", lambda _o: f"/api/catalogue/{ITEM}"),
    Probe(Action.ASSESS, "POST", lambda _o: f"/api/catalogue/{ITEM}/assessment", lambda _u, _o: {"materials": []}),
    Probe(Action.OPS, "GET", lambda _o: "/api/ops/stuck"),
    Probe(Action.OPS, "GET", lambda _o: "/api/ops/instances"),
    Probe(Action.OPS, "GET", lambda _o: "/api/ops/deadletters?limit=5"),
    # Not a letter's id: an operator hears 422 (nothing is published), every other role 403.
    Probe(Action.OPS_REPLAY, "POST", lambda _o: "/api/ops/deadletters/probe/replay"),
    Probe(Action.EXTERNAL, "GET", lambda _o: "/api/external/cases"),
    # Not 跨省 cases: an allowed caller gets 409 (nothing to hand over, no other province's answer to record).
    Probe(
        Action.HANDOVER,
        "POST",
        lambda c: f"/api/external/cases/{c.case_no}/handover",
        lambda _u, _c: {"method": "电子推送", "tracking_no": "PROBE-1"},
        objects="cases",
    ),
    Probe(
        Action.EXTERNAL_RECORD,
        "POST",
        lambda c: f"/api/external/cases/{c.case_no}/answers",
        lambda _u, _c: {"reference": "PROBE-1", "kind": "接收", "channel": "电话"},
        objects="cases",
    ),
    # 工程建设项目: registration (a clerk's: 201, then 409 for the same code) and the list's pages.
    Probe(
        Action.PROJECT_REGISTER,
        "POST",
        lambda _o: "/api/projects",
        lambda _u, _o: {
            "project_code": "2026-150525-47-03-000901",
            "name": "权限探测项目",
            "builder": "奈曼旗探测建设有限公司",
            "builder_uscc": "91150525MA0Q8K7X37",
            "location": "大沁他拉镇",
            "project_type": "FJ",
        },
    ),
    Probe(Action.PROJECTS, "GET", lambda _o: "/api/projects"),
    Probe(Action.PROJECTS, "GET", lambda _o: "/api/projects?page=2&size=5"),
)
# 不予受理 is POST /api/cases with refusal_reason; the SLA and /ops streams are pushed (not probed: they last 60 s).


async def accepted_by(hall: InProcessHall, clerk: str, point: str) -> Case:
    body = {"item_code": ITEM, "applicant": APPLICANT, "materials": ["M01", "M02"]}
    response = await hall.client.post("/api/cases", json=body, headers=auth(clerk))
    assert response.status_code == 201, response.text
    return Case(response.json()["case_no"], point, clerk, frozenset({"自然资源局"}))


@pytest.fixture(scope="module")
async def world(hall: InProcessHall) -> World:
    client = hall.client
    at_hall, at_town, at_village = await asyncio.gather(
        accepted_by(hall, "clerk-zhang", "hall"),
        accepted_by(hall, "clerk-town", "town-dqtl"),
        accepted_by(hall, "clerk-village", "village-bytl"),
    )
    claimed, unclaimed = await asyncio.gather(open_step(client, at_hall.case_no), open_step(client, at_village.case_no))
    claim = await client.post(f"/api/steps/{claimed}/claim", headers=auth("zrzy-li"))
    assert claim.status_code == 200, claim.text
    # A bad review of the hall case's 受理 (the window's service): a follow-up for the window's department.
    bad = await client.post(
        f"/api/cases/{at_hall.case_no}/ratings",
        json={"level": "非常不满意", "channel": "自助终端", "stage": "受理", "applicant_id_tail": ID_NUMBER[-6:]},
        headers=auth("kiosk-01"),
    )
    assert bad.status_code == 201, bad.text
    followup_id = bad.json()["followup_id"]

    async def followup() -> FollowUp | None:
        answer = await client.get(f"/api/ratings/followups/{followup_id}", headers=auth("op-qian"))
        return FollowUp(followup_id, answer.json()["followup"]["department"]) if answer.status_code == 200 else None

    async def steps_seen() -> bool | None:  # the case view lists the steps' departments once the workbench has them
        answer = await client.get(f"/api/cases/{at_town.case_no}", headers=auth("zrzy-li"))
        return answer.status_code == 200 or None

    found = await eventually(followup)
    await eventually(steps_seen)
    return World(
        cases=[at_hall, at_town, at_village],
        steps=[
            Step(claimed, at_hall, "自然资源局", "zrzy-li"),
            Step(unclaimed, at_village, "自然资源局", ""),
        ],
        departments=[Department("自然资源局"), Department("住建局")],
        followups=[found],
    )


def test_the_readme_shows_the_table_as_it_is() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "## Who may do what" in readme
    assert markdown() in readme, "README.md's table is stale: python -m services.gateway.access prints it"


def test_every_action_of_the_table_is_probed() -> None:
    probed = {probe.action for probe in PROBES}
    assert probed == set(TABLE), f"actions without a probe: {set(TABLE) - probed}"


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c or "anonymous")
async def test_each_role_reaches_exactly_what_the_table_allows(hall: InProcessHall, world: World, caller: str) -> None:
    user = _DIRECTORY.get(caller) if caller else None
    headers = auth(caller) if caller else {}
    objects: dict[str, list[Any]] = {
        "": [None],
        "cases": list(world.cases),
        "steps": list(world.steps),
        "departments": list(world.departments),
        "followups": list(world.followups),
    }

    async def run(probe: Probe, obj: Any) -> str | None:
        path = probe.path(obj)
        kwargs: dict[str, Any] = {"headers": headers}
        if probe.body is not None:
            kwargs["json"] = probe.body(user, obj)
        response = await hall.client.request(probe.method, path, **kwargs)
        code = response.status_code
        where = f"{caller or 'anonymous'} {probe.method} {path} ({probe.action.name})"
        if code >= 500:
            return f"{where}: {code} {response.text[:200]}"
        if user is None and probe.action not in PUBLIC:
            return None if code == 401 else f"{where}: {code}, expected 401"
        if user is None:  # the public, with the applicant's ID number (access.PUBLIC)
            expected = True
        else:
            expected = allowed(user, probe.action, obj) and (probe.gate is None or allowed(user, probe.gate, None))
        if expected and code in (401, 403, 404):
            return f"{where}: {code} {response.text[:160]}, expected allowed"
        if not expected and code not in probe.denied:
            return f"{where}: {code} {response.text[:160]}, expected {'/'.join(map(str, probe.denied))}"
        return None

    results = await asyncio.gather(*(run(p, o) for p in PROBES for o in objects[p.objects]))
    wrong = [r for r in results if r is not None]
    assert not wrong, "\n".join(wrong)
