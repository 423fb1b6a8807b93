"""Schemathesis over the gateway's own OpenAPI document (issue 11, item 9): a few generated requests per operation,
with a clerk's token, over real HTTP to a hall served in this process; no answer may be a server error.

Bounded on purpose (``EXAMPLES`` per operation, generation only): it runs in ``./hall test``. Status-code
conformance is not checked here yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err

from shared.settings import HallSettings
from tests.halls import InProcessHall, fresh_settings, in_process_hall
from tests.journeys import CLERK

pytestmark = pytest.mark.integration

EXAMPLES = 4
# Operations that would end the clerk's own session for the rest of the run: not server errors either way.
SKIPPED = ("/logout", "/api/session", "revoke")


@pytest.fixture(scope="module")
async def served(settings: HallSettings) -> AsyncIterator[InProcessHall]:
    async with in_process_hall(await fresh_settings(settings), serve=True) as running:
        yield running


def fuzz(document: dict[str, Any], base_url: str) -> tuple[int, list[str]]:
    """Every operation's generated requests: how many were sent, and the failures, one line each (run in a
    thread: it blocks)."""
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    sent = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"the OpenAPI document is invalid: {result.err()}")
            continue
        operation = result.ok()
        if any(part in operation.path for part in SKIPPED):
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            nonlocal sent
            sent += 1
            response = case.call(base_url=base_url, headers=dict(CLERK), timeout=30)
            case.validate_response(response, checks=[not_a_server_error])

        try:
            check()
        except Exception as exc:  # noqa: BLE001 (each operation's failure is collected and reported together)
            failures.append(f"{operation.label}: {' '.join(str(exc).split())[:400]}")
    return sent, failures


async def test_no_operation_answers_with_a_server_error(served: InProcessHall) -> None:
    document = (await served.client.get("/schema/openapi.json")).json()
    assert len(document["paths"]) > 20
    sent, failures = await asyncio.to_thread(fuzz, document, served.base_url)
    assert not failures, "\n".join(failures)
    assert sent >= len(document["paths"]), "every operation got requests"
