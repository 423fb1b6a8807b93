"""Schemathesis over the gateway's own OpenAPI document (issue 11, item 9), with each role's token and without any.

For every role (a clerk of the banner hall and of a village point, back-office staff, a department supervisor, a
kiosk, a rating pad, an operator, and nobody signed in) a few generated requests per operation, schema-valid and
schema-invalid, go over real HTTP to a hall served in this process, and every built-in check of the installed
schemathesis runs on each answer: no server error, every status code documented, the body and the content type
as documented for that code, documented headers present (``Retry-After`` on 429 and 503), schema-invalid input
refused with a 4xx, schema-valid input never refused as malformed (400), and a secured operation that answers 2xx
refuses the same request without credentials or with bad ones. Every request carries a token minted for it, so
an operation that ends a session (logout, revoke) ends only its own.

Bounded on purpose (``EXAMPLES`` per operation and mode): the whole file runs in ``./hall test`` in one to three
minutes, depending on how busy the machine is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.config._checks import PositiveDataAcceptanceConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err

from services.gateway.access import PUBLIC, ROUTES, TABLE, Action
from services.gateway.openapi import COMMON, SIGNED_IN
from shared.settings import HallSettings
from tests.halls import InProcessHall, fresh_settings, in_process_hall
from tests.journeys import _DIRECTORY, APPLICATION, CLERK, KIOSK, KIOSK_PROOF, STAFF, _next_step, auth, open_step, state
from tests.support import eventually

pytestmark = [
    pytest.mark.integration,
    # schemathesis' own strategies draw from `random` (a deprecation hypothesis warns about on every example)
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

# Generated requests per operation and role: schema-valid ones, and schema-invalid ones (each must be a 4xx).
EXAMPLES = {GenerationMode.POSITIVE: 2, GenerationMode.NEGATIVE: 1}
ROLES = {
    "clerk": "clerk-zhang",
    "village-clerk": "clerk-village",
    "staff": "zrzy-li",
    "supervisor": "zrzy-boss",
    "kiosk": "kiosk-01",
    "pad": "pad-01",
    "operator": "op-qian",
    "anonymous": "",
}
# Schema-valid requests the hall may still refuse on their merits: an unknown case, a step already decided, an item
# code that is not in the catalogue (422) — never as malformed (400) or too large (413).
ACCEPTED = ["2xx", "401", "403", "404", "409", "422", "429"]
# The live streams (the board's, /ops's) last a minute for whoever may watch them: their answer to the others is
# still checked.
STREAMS = {"/api/sla/stream": Action.SLA, "/api/ops/stream": Action.OPS}


@pytest.fixture(scope="module")
async def served(settings: HallSettings) -> AsyncIterator[InProcessHall]:
    async with in_process_hall(await fresh_settings(settings), serve=True) as running:
        yield running


@pytest.fixture(scope="module")
async def document(served: InProcessHall) -> dict[str, Any]:
    answer = await served.client.get("/schema/openapi.json")
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def _streams_for(user_id: str, path: str) -> bool:
    user = _DIRECTORY.get(user_id) if user_id else None
    return user is not None and path in STREAMS and user.role in TABLE[STREAMS[path]]


def fuzz(document: dict[str, Any], base_url: str, user_id: str) -> tuple[int, list[str]]:
    """Every operation's generated requests as ``user_id`` (nobody when empty): how many were sent, and the
    failures, one line each (run in a thread: it blocks)."""
    schema = schemathesis.openapi.from_dict(document)
    schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(expected_statuses=ACCEPTED)
    failures: list[str] = []
    sent = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"the OpenAPI document is invalid: {result.err()}")
            continue
        operation = result.ok()
        if _streams_for(user_id, operation.path):
            continue
        for mode, examples in EXAMPLES.items():

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                nonlocal sent
                sent += 1
                headers = auth(user_id) if user_id else {}
                response = case.call(base_url=base_url, headers=headers, timeout=30)
                case.validate_response(response, headers=headers, transport_kwargs={"base_url": base_url})

            try:
                check()
            except (Exception, FailureGroup) as exc:  # noqa: BLE001 (each operation's failures are reported together)
                failures.append(f"{operation.label} ({mode.value}): {' '.join(str(exc).split())[:700]}")
    return sent, failures


def test_every_api_route_documents_the_common_answers(document: dict[str, Any]) -> None:
    """400, 403, 413, 429 and 503 on every route, 401 on every route but the public ones, Retry-After on 429/503."""
    public = {"POST /api/session", "POST /api/rate/{token}", *(route for a in PUBLIC for route in ROUTES[a])}
    missing: list[str] = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            answers = operation["responses"]
            is_public = f"{method.upper()} {path}" in public
            wanted = {*COMMON, *(() if is_public else SIGNED_IN)}
            missing += [f"{method.upper()} {path}: {code}" for code in sorted(wanted) if str(code) not in answers]
            missing += [
                f"{method.upper()} {path}: {code} without Retry-After"
                for code in ("429", "503")
                if "Retry-After" not in answers.get(code, {}).get("headers", {})
            ]
            missing += [
                f"{method.upper()} {path}: {code} without a body"
                for code, answer in answers.items()
                if code >= "400" and "Problem" not in str(answer.get("content", {}))
            ]
            secured = bool(operation.get("security"))
            if secured == is_public:
                missing.append(f"{method.upper()} {path}: security {'declared' if secured else 'missing'}")
    assert not missing, "\n".join(missing)


async def test_real_answers_have_the_documented_bodies(served: InProcessHall, document: dict[str, Any]) -> None:
    """Generated requests rarely succeed (they name cases and steps that do not exist): a real case's answers do,
    each checked against its operation's documented status codes and body (the owning services' replies)."""
    schema = schemathesis.openapi.from_dict(document)
    client = served.client
    checked: list[str] = []

    def conforms(response: httpx.Response, path: str, method: str = "POST") -> httpx.Response:
        operation = schema[path][method]
        assert str(response.status_code) in operation.definition.raw["responses"], (path, response.text)
        operation.validate_response(response)
        checked.append(f"{method} {path} {response.status_code}")
        return response

    incomplete = {**APPLICATION, "materials": ["M01"]}
    conforms(await client.post("/api/cases", json=incomplete, headers=CLERK), "/api/cases")
    accepted = conforms(await client.post("/api/cases", json=APPLICATION, headers=CLERK), "/api/cases")
    case_no = accepted.json()["case_no"]
    step_id = await open_step(client, case_no)
    conforms(await client.post(f"/api/steps/{step_id}/claim", headers=STAFF), "/api/steps/{step_id}/claim")
    done: set[str] = set()
    for opinion in ("材料齐全", "审核同意", "准予"):  # 承办 → 审核 → 决定
        step_id = await _next_step(client, case_no, 0.1, done)
        decision = {"action": "通过", "opinion": opinion}
        decided = await client.post(f"/api/steps/{step_id}/decision", json=decision, headers=STAFF)
        conforms(decided, "/api/steps/{step_id}/decision")
        done.add(step_id)
    await state(client, case_no, "已办结")
    delivered = await client.post(f"/api/deliveries/{case_no}", json={"method": "窗口"}, headers=CLERK)
    conforms(delivered, "/api/deliveries/{case_no}")

    async def linked() -> httpx.Response | None:  # once evaluation opened the delivered service for rating
        answer = await client.post(f"/api/cases/{case_no}/rating-links", json={"stage": "办结"}, headers=CLERK)
        return None if answer.status_code == 409 else answer

    link = conforms(await eventually(linked), "/api/cases/{case_no}/rating-links")
    by_link = await client.post(f"/api/rate/{link.json()['token']}", json={"level": "满意"})
    conforms(by_link, "/api/rate/{token}")
    bad = {"level": "非常不满意", "channel": "自助终端", "stage": "受理", **KIOSK_PROOF}
    rated = conforms(
        await client.post(f"/api/cases/{case_no}/ratings", json=bad, headers=KIOSK), "/api/cases/{case_no}/ratings"
    )
    followup_id = rated.json()["followup_id"]
    conforms(await client.get(f"/api/cases/{case_no}", headers=CLERK), "/api/cases/{case_no}", "GET")
    conforms(
        await client.get(
            "/api/lookup", params={"case_no": case_no, "id_number": APPLICATION["applicant"]["id_number"]}
        ),
        "/api/lookup",
        "GET",
    )

    async def verified() -> httpx.Response | None:  # once the gateway's ledger has the bad review
        answer = await client.post(
            f"/api/ratings/followups/{followup_id}/verification",
            json={"outcome": "整改", "reply": "已联系申请人，改进窗口引导"},
            headers=auth("op-qian"),
        )
        return None if answer.status_code == 404 else answer

    conforms(await eventually(verified), "/api/ratings/followups/{followup_id}/verification")
    assert len(checked) == 13, checked


@pytest.mark.parametrize("role", list(ROLES))
async def test_schemathesis_finds_nothing(served: InProcessHall, document: dict[str, Any], role: str) -> None:
    assert len(document["paths"]) > 20
    sent, failures = await asyncio.to_thread(fuzz, document, served.base_url, ROLES[role])
    print(f"schemathesis as {role}: {sent} requests over {len(document['paths'])} paths, {len(failures)} failures")  # noqa: T201
    assert not failures, "\n".join(failures)
    assert sent >= len(document["paths"]), "every operation got requests"
