"""Answers that wait for a change: conditional GETs (``If-None-Match``) that may wait (``Prefer: wait=N``).

A page or a client that follows one case asks ``GET /api/cases/{case_no}`` (or ``GET /api/steps/{step_id}``) with
the ``ETag`` of the answer it has and ``Prefer: wait=10`` (RFC 7240): the gateway answers as soon as the answer
differs, or ``304 Not Modified`` after the 10 s, instead of being asked again and again. Without ``Prefer`` a
matching ``If-None-Match`` is answered ``304`` at once (RFC 9110), and a missing case or step is answered ``404``
at once; with it, a case or step that does not exist yet is waited for too.

The gateway's own read models tell :class:`Changes` which cases and steps an event touched (after its Redis
transaction committed), which wakes the requests watching them. A request is also checked again every
``RECHECK_S``: another gateway instance may have handled the event, and time alone changes some answers (the
remaining working time). At most ``MAX_WAITERS`` requests wait at once in a process; beyond that the preference is
not applied (the answer comes at once, without ``Preference-Applied``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import NotFoundException

from shared.envelope import Envelope

MAX_WAIT_S = 30  # a longer wait asked for is shortened to this
RECHECK_S = 1.0
MAX_WAITERS = 2000
JSON = "application/json"
_ENCODER = msgspec.json.Encoder()


class Watch:
    """One waiting request: woken when any key it watches changes."""

    __slots__ = ("changed", "keys")

    def __init__(self) -> None:
        self.changed = asyncio.Event()
        self.keys: set[str] = set()


class Changes:
    """Which watched cases and steps the gateway's read models have just changed, per process."""

    def __init__(self) -> None:
        self._watching: dict[str, set[Watch]] = {}
        self.waiting = 0

    def handled(self, envelope: Envelope, payloads: Iterable[Any]) -> None:
        """After an event's effects are committed: wake whoever watches its case (by id or number) or its steps."""
        if not self._watching:
            return
        self.changed(envelope.case_id)
        for payload in payloads:
            for field in ("case_no", "step_id"):
                key = getattr(payload, field, "")
                if key:
                    self.changed(str(key))

    def changed(self, key: str) -> None:
        for watch in self._watching.get(key, ()):
            watch.changed.set()

    def watch(self, watch: Watch, key: str) -> None:
        if key not in watch.keys:
            watch.keys.add(key)
            self._watching.setdefault(key, set()).add(watch)

    def forget(self, watch: Watch) -> None:
        for key in watch.keys:
            watchers = self._watching.get(key)
            if watchers is not None:
                watchers.discard(watch)
                if not watchers:
                    del self._watching[key]
        watch.keys.clear()


def preferred_wait(prefer: str | None) -> int | None:
    """The ``wait`` preference of a ``Prefer`` header in seconds (at most ``MAX_WAIT_S``), or None. A malformed
    preference is ignored, as RFC 7240 asks of a preference a server does not understand."""
    if not prefer:
        return None
    for preference in prefer.split(","):
        name, _, value = preference.split(";", 1)[0].partition("=")
        if name.strip().lower() == "wait":
            seconds = value.strip().strip('"')
            if seconds.isdigit():
                return min(int(seconds), MAX_WAIT_S)
            return None
    return None


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names this entity tag (weak comparison, RFC 9110 13.1.2) or is ``*``."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


Build = Callable[[Callable[[str], None]], Awaitable[msgspec.Struct]]


async def answer_on_change(request: Request[Any, Any, Any], changes: Changes, build: Build) -> Response[Any]:
    """Build the answer (``build`` names the keys it depends on, before reading them); when the caller already
    has it (``If-None-Match``) and asked to wait, wait for a change of those keys and build it again, up to the
    preferred wait. A 404 is waited out the same way when the caller asked to wait."""
    wait_s = preferred_wait(request.headers.get("prefer"))
    if wait_s is not None and changes.waiting >= MAX_WAITERS:
        wait_s = None
    if_none_match = request.headers.get("if-none-match")
    deadline = time.monotonic() + (wait_s or 0)
    watch = Watch()
    # Only a request that will wait is woken, so only one watches (a plain read, the most of them, registers nothing).
    on: Callable[[str], None] = (lambda key: changes.watch(watch, key)) if wait_s is not None else _unwatched
    changes.waiting += wait_s is not None
    try:
        while True:
            watch.changed.clear()
            try:
                view = await build(on)
            except NotFoundException:
                if wait_s is None or time.monotonic() >= deadline:
                    raise
            else:
                body = _ENCODER.encode(view)
                etag = etag_of(body)
                if not matches(if_none_match, etag):
                    return _answer(200, body, etag, wait_s)
                if wait_s is None or time.monotonic() >= deadline:
                    return _answer(304, b"", etag, wait_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(watch.changed.wait(), min(RECHECK_S, max(0.0, deadline - time.monotonic())))
    finally:
        changes.waiting -= wait_s is not None
        changes.forget(watch)


def _unwatched(_: str) -> None:
    return


def _answer(status: int, body: bytes, etag: str, wait_s: int | None) -> Response[Any]:
    headers = {"ETag": etag, "Cache-Control": "no-store"}
    if wait_s is not None:
        headers["Preference-Applied"] = f"wait={wait_s}"
    return Response(content=body, status_code=status, media_type=JSON, headers=headers)
