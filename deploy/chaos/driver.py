"""The chaos client: open-loop submissions with Idempotency-Keys, kiosk-style retries, and whole lifecycles.

Every request goes through the gateway's HTTP API with the demo users' tokens (``POST /api/session``). A
request answered 5xx or 429, timed out or refused a connection is sent again, unchanged (a submission with the
same Idempotency-Key), after a back-off with jitter, until ``patience_s`` has passed. Every answer is counted
against the fault phase it arrived in.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.journeys import APPLICATION, CLERK_ID, KIOSK_PROOF, STAFF_ID

KIOSK_ID = "kiosk-01"
PASSWORD = "hall2026"  # noqa: S105 (the demo users' published password, HALL_DEMO=1 only)
RETRYABLE = frozenset({429, 500, 502, 503, 504})
# The steps of a single-department item, in order; routing names them ``<case_id>-<track>-<seq>``.
STEP_OPINIONS = ("材料齐全", "审核同意", "准予")
# A 409 with one of these says "not yet" (尚未出件, 尚未办结, 未开放评价): the act is sent again, not taken as done.
NOT_YET = ("尚未", "未开放")


@dataclass
class Submission:
    """One application as the client saw it."""

    index: int
    key: str
    case_id: str  # what the gateway derives from the key (uuid5 of namespace, user and key)
    phase: str  # the fault phase it was first sent in
    drive: bool  # driven through its whole lifecycle, or only submitted
    sent_at: float
    statuses: list[int] = field(default_factory=list)
    case_no: str = ""
    pending: bool = False  # answered 202 at least once (safe in Kafka, not yet carried out)
    gave_up: bool = False
    unexpected: str = ""  # an answer no retry explains (200 待补正, 4xx)
    reached: str = ""  # the furthest state the lifecycle saw
    owed: str = ""  # the state on the gateway the last act the hall acknowledged must bring (its effect)
    drive_error: str = ""
    drive_skipped: bool = False  # due to be driven, but the client already drove as many as it may at once


@dataclass
class PhaseCounts:
    requests: int = 0
    server_errors: int = 0  # 5xx answered
    throttled: int = 0  # 429
    failures: int = 0  # connection refused, reset or timed out
    statuses: Counter[int] = field(default_factory=Counter)


def case_id_for(namespace: str, user_id: str, key: str) -> str:
    """The case id the gateway gives a submission with this key (services/gateway/cases/api.py)."""
    return uuid.uuid5(uuid.NAMESPACE_OID, f"{namespace}:{user_id}:{key}").hex


class Client:
    def __init__(
        self,
        base_url: str,
        namespace: str,
        *,
        patience_s: float = 300.0,
        request_timeout_s: float = 30.0,
        drive_every: int = 5,
        drive_concurrency: int = 40,
        poll_s: float = 1.0,
        connections: int = 64,
    ) -> None:
        self.base_url = base_url
        self.namespace = namespace
        self.patience_s = patience_s
        self.drive_every = drive_every
        self.poll_s = poll_s
        self.http = httpx.AsyncClient(
            base_url=base_url,
            timeout=request_timeout_s,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )
        # At most ``connections`` requests at once; the others wait here, not in httpcore's pool, whose queue
        # costs time quadratic in its length (thousands of waiting retries spun the event loop at 100 % CPU).
        self._gate = asyncio.Semaphore(connections)
        self.headers: dict[str, dict[str, str]] = {}
        self._signing: dict[str, asyncio.Lock] = {}
        self.phase = "warm-up"
        self.phases: dict[str, PhaseCounts] = {}
        self.submissions: list[Submission] = []
        # (sent, answered) monotonic times of every 201 a submission got: recovery is the first one sent after it.
        self.successes: list[tuple[float, float]] = []
        self.in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        # Lifecycles under way at once. One due while all are taken is not driven (only submitted, and judged
        # as such): queueing it would grow the client's backlog without bound whenever the hall, slowed by a
        # fault, finishes lifecycles more slowly than the run starts them.
        self.drive_concurrency = drive_concurrency
        self.driving = 0
        self._stop = asyncio.Event()
        self._run_id = uuid.uuid4().hex[:8]

    # -- sign-in ------------------------------------------------------------------------------------------

    async def sign_in(self) -> None:
        for user_id in (CLERK_ID, STAFF_ID, KIOSK_ID):
            await self.sign_in_as(user_id)

    async def sign_in_as(self, user_id: str) -> None:
        response = await self.request(
            "POST", "/api/session", user_id, json={"user_id": user_id, "password": PASSWORD}, anonymous=True
        )
        if response is None or response.status_code not in (200, 201):
            text = response.text if response is not None else "no answer"
            raise RuntimeError(f"sign-in of {user_id} failed: {text}")
        self.headers[user_id] = {"Authorization": f"Bearer {response.json()['token']}"}

    async def _refresh(self, user_id: str, used: str) -> None:
        """Signs ``user_id`` in again, once for all the requests refused with the same token."""
        async with self._signing.setdefault(user_id, asyncio.Lock()):
            if self.headers[user_id].get("Authorization") != used:
                return  # another request signed in again meanwhile
            with contextlib.suppress(RuntimeError):  # not yet (503 while rebuilding): the next 401 tries again
                await self.sign_in_as(user_id)

    # -- requests -----------------------------------------------------------------------------------------

    def counts(self) -> PhaseCounts:
        return self.phases.setdefault(self.phase, PhaseCounts())

    async def request(
        self,
        method: str,
        url: str,
        user_id: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        anonymous: bool = False,
        patience_s: float | None = None,
    ) -> httpx.Response | None:
        """The first answer that is not worth retrying, or None when patience ran out."""
        deadline = time.monotonic() + (self.patience_s if patience_s is None else patience_s)
        attempt = 0
        while True:
            wait: float | None = None
            stale = False
            all_headers = {**({} if anonymous else self.headers[user_id]), **(headers or {})}
            await self._gate.acquire()
            self.in_flight += 1
            sent = time.monotonic()
            try:
                response = await self.http.request(method, url, json=json, headers=all_headers)
                response.extensions["chaos_sent"] = sent
            except (httpx.TransportError, httpx.TimeoutException):
                counts = self.counts()
                counts.requests += 1
                counts.failures += 1
            else:
                counts = self.counts()
                counts.requests += 1
                counts.statuses[response.status_code] += 1
                if response.status_code >= 500:
                    counts.server_errors += 1
                if response.status_code == 429:
                    counts.throttled += 1
                if response.status_code == 401 and not anonymous:
                    stale = True  # the gateway's Redis was wiped: sessions from before are refused; sign in again
                elif response.status_code not in RETRYABLE:
                    return response
                retry_after = response.headers.get("retry-after", "")
                if retry_after.isdigit():
                    wait = min(float(retry_after), 10.0)
            finally:
                self.in_flight -= 1
                self._gate.release()
            attempt += 1
            if stale and time.monotonic() < deadline:
                await self._refresh(user_id, all_headers.get("Authorization", ""))
                continue
            if wait is None:
                wait = min(8.0, 0.25 * 2**attempt) * random.uniform(0.5, 1.5)  # noqa: S311 (jitter, not crypto)
            if time.monotonic() + wait > deadline:
                return None
            await asyncio.sleep(wait)

    # -- submissions --------------------------------------------------------------------------------------

    async def run(self, rate: float) -> None:
        """Submits at ``rate`` per second, open loop (one task per application), until ``stop``."""
        interval = 1.0 / rate
        next_at = time.monotonic()
        index = len(self.submissions)  # on from where a pause (``stop``, then ``run`` again) left off
        while not self._stop.is_set():
            self._spawn(self.submit(index))
            index += 1
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)

    def stop(self) -> None:
        self._stop.set()

    def resume(self, rate: float) -> asyncio.Task[None]:
        """Submits again after :meth:`stop` (keys go on from where it stopped); the task that submits."""
        self._stop.clear()
        return asyncio.create_task(self.run(rate))

    async def drain(self) -> None:
        """Waits for every submission and lifecycle still under way (each is bounded by its patience)."""
        deadline = time.monotonic() + 2 * self.patience_s + 60  # a submission's patience, then its lifecycle's
        while self._tasks and time.monotonic() < deadline:
            await asyncio.wait(list(self._tasks), timeout=max(0.0, deadline - time.monotonic()))
        for task in list(self._tasks):  # none should be left; the accounting judges them as they are
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.http.aclose()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def submit(self, index: int) -> None:
        key = f"chaos-{self._run_id}-{index:06d}"
        sub = Submission(
            index=index,
            key=key,
            case_id=case_id_for(self.namespace, CLERK_ID, key),
            phase=self.phase,
            drive=self.drive_every > 0 and index % self.drive_every == 0,
            sent_at=time.monotonic(),
        )
        self.submissions.append(sub)
        deadline = sub.sent_at + self.patience_s
        headers = {"Idempotency-Key": key}
        while True:
            left = deadline - time.monotonic()
            response = await self.request(
                "POST", "/api/cases", CLERK_ID, json=APPLICATION, headers=headers, patience_s=max(left, 0.0)
            )
            if response is None:
                sub.gave_up = True
                return
            sub.statuses.append(response.status_code)
            if response.status_code == 201:
                sub.case_no = response.json()["case_no"]
                self.successes.append((response.extensions["chaos_sent"], time.monotonic()))
                break
            if response.status_code == 202:
                # Safe in Kafka: ask again with the same key for the first answer, as a kiosk would.
                sub.pending = True
                if time.monotonic() + 2 > deadline:
                    return
                await asyncio.sleep(2)
                continue
            sub.unexpected = f"{response.status_code} {response.text[:200]}"
            return
        if not sub.drive:
            return
        if self.driving >= self.drive_concurrency:
            sub.drive, sub.drive_skipped = False, True
            return
        self.driving += 1
        try:
            await self.lifecycle(sub)
        except (KeyError, ValueError, RuntimeError) as exc:
            sub.drive_error = f"{type(exc).__name__}: {exc}"
        finally:
            self.driving -= 1

    # -- lifecycles ---------------------------------------------------------------------------------------

    async def _poll(self, url: str, user_id: str, ready: Any, deadline: float) -> dict[str, Any] | None:
        """GETs ``url`` every ``poll_s`` until ``ready(body)``; None when the deadline passed."""
        while time.monotonic() < deadline:
            response = await self.request("GET", url, user_id, patience_s=deadline - time.monotonic())
            if response is not None and response.status_code == 200:
                body: dict[str, Any] = response.json()
                if ready(body):
                    return body
            await asyncio.sleep(self.poll_s)
        return None

    async def _act(self, url: str, user_id: str, body: dict[str, Any], what: str, deadline: float) -> None:
        """POSTs until it is done: a 409 that says "not yet" (the owning service has not seen the event the
        gateway's read model already shows, e.g. evaluation just restarted: 尚未出件) is sent again; any other
        409 means already done (a retried command whose first attempt went through)."""
        while True:
            response = await self.request("POST", url, user_id, json=body)
            if response is None:
                raise RuntimeError(f"{what}: no answer within patience")
            if response.status_code == 409 and any(word in response.text for word in NOT_YET):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{what}: still 409 at the deadline: {response.text[:200]}")
                await asyncio.sleep(self.poll_s)
                continue
            if response.status_code not in (200, 201, 202, 409):
                raise RuntimeError(f"{what}: {response.status_code} {response.text[:200]}")
            return

    async def lifecycle(self, sub: Submission) -> None:
        """承办 → 审核 → 决定 (each claimed, then 通过), delivery at the window, a kiosk rating.

        The whole lifecycle gets ``patience_s``: a case that has not reached 已评价 by then is left as it is (the
        accounting finds it stuck).
        """
        deadline = time.monotonic() + self.patience_s
        for seq, opinion in enumerate(STEP_OPINIONS, start=1):
            step_id = f"{sub.case_id}-1-{seq}"
            step = await self._poll(
                f"/api/steps/{step_id}", STAFF_ID, lambda b: b["step"]["status"] == "待办", deadline
            )
            if step is None:
                raise RuntimeError(f"step {seq} never opened")
            await self._act(f"/api/steps/{step_id}/claim", STAFF_ID, {}, f"claim of step {seq}", deadline)
            await self._act(
                f"/api/steps/{step_id}/decision",
                STAFF_ID,
                {"action": "通过", "opinion": opinion},
                f"step {seq}",
                deadline,
            )
            sub.owed = "已办结" if seq == len(STEP_OPINIONS) else "办理中"
            done = await self._poll(
                f"/api/steps/{step_id}", STAFF_ID, lambda b: b["step"]["status"] == "已办", deadline
            )
            if done is None:
                raise RuntimeError(f"decision of step {seq} never carried out")
            sub.reached = f"环节{seq}已办"
        await self._wait_state(sub, "已办结", deadline)
        await self._act(f"/api/deliveries/{sub.case_no}", CLERK_ID, {"method": "窗口"}, "delivery", deadline)
        sub.owed = "已出件"
        await self._wait_state(sub, "已出件", deadline)
        rating = {"level": "非常满意", "channel": "自助终端", **KIOSK_PROOF}
        await self._act(f"/api/cases/{sub.case_no}/ratings", KIOSK_ID, rating, "rating", deadline)
        sub.owed = "已评价"
        await self._wait_state(sub, "已评价", deadline)

    async def _wait_state(self, sub: Submission, wanted: str, deadline: float) -> None:
        body = await self._poll(f"/api/cases/{sub.case_no}", CLERK_ID, lambda b: b["state"] == wanted, deadline)
        if body is None:
            raise RuntimeError(f"never reached {wanted}")
        sub.reached = wanted
