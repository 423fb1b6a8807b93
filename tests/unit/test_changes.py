"""The pieces of a read that waits for a change (services/gateway/changes.py): the Prefer and If-None-Match
headers, and the watches the read models wake."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import msgspec
import pytest

from services.gateway.changes import MAX_WAIT_S, Changes, Watch, etag_of, matches, preferred_wait
from shared.envelope import SYSTEM, Envelope


@pytest.mark.parametrize(
    ("prefer", "wait"),
    [
        (None, None),
        ("", None),
        ("wait=10", 10),
        ("WAIT = 5", 5),
        ('wait="7"', 7),
        ("respond-async, wait=3", 3),
        ("wait=4; foo=bar", 4),
        (f"wait={MAX_WAIT_S + 100}", MAX_WAIT_S),
        ("wait=0", 0),
        ("wait=-1", None),
        ("wait=1.5", None),
        ("wait=abc", None),
        ("wait", None),
        ("return=minimal", None),
    ],
)
def test_the_wait_preference(prefer: str | None, wait: int | None) -> None:
    assert preferred_wait(prefer) == wait


def test_entity_tags_match_weakly_and_by_star() -> None:
    tag = etag_of(b'{"a":1}')
    assert (tag[0], tag[-1], len(tag)) == ('"', '"', 26)
    assert tag != etag_of(b'{"a":2}')
    assert matches(tag, tag)
    assert matches(f'"other", W/{tag}', tag)
    assert matches("*", tag)
    assert not matches(None, tag)
    assert not matches('"other"', tag)


def envelope(case_id: str) -> Envelope:
    actor = SYSTEM
    return Envelope(
        event_id="e1",
        type="StepOpened.v1",
        case_id=case_id,
        actor=actor,
        occurred_at=datetime(2026, 12, 1, tzinfo=UTC),
        payload=msgspec.Raw(b"{}"),
    )


class Payload(msgspec.Struct):
    case_no: str = ""
    step_id: str = ""


async def test_an_event_wakes_the_watches_of_its_case_and_steps_only() -> None:
    changes = Changes()
    by_id, by_number, by_step, other = Watch(), Watch(), Watch(), Watch()
    changes.watch(by_id, "case-1")
    changes.watch(by_number, "150525-1")
    changes.watch(by_step, "case-1-1-2")
    changes.watch(other, "case-2")
    changes.handled(envelope("case-1"), [Payload(case_no="150525-1", step_id="case-1-1-2")])
    assert [w.changed.is_set() for w in (by_id, by_number, by_step, other)] == [True, True, True, False]
    await asyncio.wait_for(by_id.changed.wait(), 1)


def test_forgotten_watches_leave_nothing_behind() -> None:
    changes = Changes()
    first, second = Watch(), Watch()
    for watch in (first, second):
        changes.watch(watch, "case-1")
        changes.watch(watch, "case-1")  # twice: once
    changes.watch(second, "case-2")
    changes.forget(first)
    changes.handled(envelope("case-1"), [])
    assert (first.changed.is_set(), second.changed.is_set()) == (False, True)
    changes.forget(second)
    assert changes._watching == {}  # no key kept once nobody waits
