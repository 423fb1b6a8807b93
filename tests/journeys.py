"""One case's whole journey over HTTP, shared by the integration, e2e and benchmark code."""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import urlencode

from services.gateway.users import Directory
from shared.settings import load_settings
from tests.support import eventually

_DIRECTORY = Directory(load_settings().secret)


def auth(user_id: str) -> dict[str, str]:
    """API headers of a signed-in user of ``data/users.toml`` (a bearer token, as ``POST /api/session`` gives)."""
    user = _DIRECTORY.get(user_id)
    assert user is not None, f"no user {user_id} in data/users.toml"
    return {"Authorization": f"Bearer {_DIRECTORY.token(user)}"}


CLERK_ID, STAFF_ID, KIOSK_ID = "clerk-zhang", "zrzy-li", "kiosk-01"
CLERK, STAFF, KIOSK = auth(CLERK_ID), auth(STAFF_ID), auth(KIOSK_ID)


def sign_in_again(*more: tuple[dict[str, str], str]) -> None:
    """New tokens, in place, for CLERK, STAFF, KIOSK and ``more`` (headers, user id): after the gateway's Redis was
    wiped, every session issued before its rebuild is refused (services/gateway/rebuild.py)."""
    for headers, user_id in ((CLERK, CLERK_ID), (STAFF, STAFF_ID), (KIOSK, KIOSK_ID), *more):
        headers.update(auth(user_id))


ITEM = "11150525000118001"  # 查封登记, 自然资源局
APPLICATION: dict[str, Any] = {
    "item_code": ITEM,
    "applicant": {"name": "赵小红", "id_type": "居民身份证", "id_number": "150525199001011237"},
    "materials": ["M01", "M02"],
    "channel": "window",
}
# At a shared kiosk the applicant proves the case is theirs with the last six characters of their ID number.
KIOSK_PROOF = {"applicant_id_tail": APPLICATION["applicant"]["id_number"][-6:]}


class Response(Protocol):
    status_code: int

    def json(self) -> Any: ...


class Client(Protocol):
    async def get(self, url: str, *, headers: dict[str, str] | None = ...) -> Any: ...
    async def post(self, url: str, *, json: Any = ..., headers: dict[str, str] | None = ...) -> Any: ...


async def submit(client: Client, application: dict[str, Any] | None = None) -> str:
    response = await client.post("/api/cases", json=application or APPLICATION, headers=CLERK)
    assert response.status_code == 201, response.text
    case_no: str = response.json()["case_no"]
    return case_no


async def inbox_steps(client: Client, url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every step of a department's inbox (``url``), page after page (the API answers 50 a page by default)."""
    return await all_items(client, url, headers)


async def all_items(client: Client, url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every item of a paged list (services/gateway/paging.py), following ``next_cursor`` 200 at a time."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 200}
    while True:
        joined = "&" if "?" in url else "?"
        response = await client.get(f"{url}{joined}{urlencode(params)}", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        found += body["items"]
        if not body.get("next_cursor"):
            return found
        params["cursor"] = body["next_cursor"]


async def open_step(client: Client, case_no: str, every_s: float = 0.1) -> str:
    """The case's step waiting in 自然资源局's inbox (the first of 承办 → 审核 → 决定 not yet decided)."""
    return await _next_step(client, case_no, every_s, decided=set())


async def _next_step(client: Client, case_no: str, every_s: float, decided: set[str]) -> str:
    async def probe() -> str | None:
        steps = [
            s
            for s in await inbox_steps(client, "/api/departments/自然资源局/steps", STAFF)
            if s["case_no"] == case_no and s["step_id"] not in decided and not s["waiting"]
        ]
        return steps[0]["step_id"] if steps else None

    return await eventually(probe, every_s=every_s)


async def state(client: Client, case_no: str, wanted: str, every_s: float = 0.1) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        response = await client.get(f"/api/cases/{case_no}", headers=CLERK)
        body: dict[str, Any] = response.json()
        return body if response.status_code == 200 and body["state"] == wanted else None

    return await eventually(probe, every_s=every_s)


async def whole_journey(client: Client, every_s: float = 0.1) -> str:
    """Submit, approve, deliver and rate one case; returns its case number."""
    case_no = await submit(client)
    await finish_journey(client, case_no, every_s)
    return case_no


async def finish_journey(client: Client, case_no: str, every_s: float = 0.1) -> None:
    """Approve, deliver and rate an accepted case, waiting for each step's effect.

    A command may be answered 202 (the owning service is catching up, e.g. after a restart): it is safe in
    Kafka, so the journey waits for its effect just the same.
    """
    done: set[str] = set()
    for opinion in ("材料齐全", "审核同意", "准予"):  # 承办 → 审核 → 决定, each opened when the last is decided
        step_id = await _next_step(client, case_no, every_s, done)
        decision = {"action": "通过", "opinion": opinion}
        decided = await client.post(f"/api/steps/{step_id}/decision", json=decision, headers=STAFF)
        assert decided.status_code in (200, 202), decided.text
        done.add(step_id)
    await state(client, case_no, "已办结", every_s)
    delivered = await client.post(f"/api/deliveries/{case_no}", json={"method": "窗口"}, headers=CLERK)
    assert delivered.status_code in (200, 202), delivered.text
    await state(client, case_no, "已出件", every_s)
    rating = {"level": "非常满意", "channel": "自助终端", **KIOSK_PROOF}
    rated = await client.post(f"/api/cases/{case_no}/ratings", json=rating, headers=KIOSK)
    assert rated.status_code in (201, 202), rated.text
    await state(client, case_no, "已评价", every_s)
