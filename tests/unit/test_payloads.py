"""A record read by several handlers is decoded once per payload class, not once per handler."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from shared.envelope import SYSTEM, Envelope, decode, encode, wrap
from shared.kafka import Route, payloads_of


class Accepted(msgspec.Struct, frozen=True, kw_only=True):
    case_no: str


class AcceptedWithItem(msgspec.Struct, frozen=True, kw_only=True):
    case_no: str
    item_code: str = ""


async def _ignore(*_: Any) -> None:
    return None


def _envelope() -> Envelope:
    return decode(encode(wrap(AcceptedWithItem(case_no="1505", item_code="X1"), case_id="c1", actor=SYSTEM)))


def test_routes_sharing_a_view_share_one_decoded_payload() -> None:
    routes: list[Route[Any]] = [Route(Accepted, _ignore), Route(AcceptedWithItem, _ignore), Route(Accepted, _ignore)]
    first, second, third = payloads_of(_envelope(), routes)
    assert first is third  # decoded once for the two routes of one class
    assert isinstance(second, AcceptedWithItem)
    assert second.item_code == "X1"
    assert first == Accepted(case_no="1505")


def test_an_invalid_payload_still_raises_for_the_dead_letter() -> None:
    class Needs(msgspec.Struct, frozen=True):
        missing: int

    with pytest.raises(msgspec.ValidationError):
        payloads_of(_envelope(), [Route(Needs, _ignore)])
