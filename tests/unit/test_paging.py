"""The one paging helper of the gateway's lists (services/gateway/paging.py): its cursor, its limit bounds and the
old page/size parameters. Paging through a real sorted set is in tests/integration/test_inbox_paging.py."""

from __future__ import annotations

import base64

import pytest
from litestar.exceptions import HTTPException, ValidationException

from services.gateway.paging import DEFAULT_LIMIT, MOST_LIMIT, Cursor, checked_limit, refuse_legacy


def test_a_cursor_round_trips_its_sort_key_exactly() -> None:
    # A POSIX time with microseconds keeps every digit (the next page starts strictly after it).
    for score, member in [(1_764_579_600.123456, "step-1"), (0.0, "步骤|一"), (-1.5e-7, "a" * 200)]:
        text = Cursor(score=score, member=member).encode()
        assert "=" not in text
        assert "/" not in text
        assert "+" not in text
        assert Cursor.decode(text) == Cursor(score=score, member=member)
    assert Cursor.decode("") is None  # no cursor: the first page


@pytest.mark.parametrize(
    "text",
    [
        "not a cursor",
        "%%%",
        base64.urlsafe_b64encode(b"{}").decode(),
        base64.urlsafe_b64encode(b"[1.0]").decode(),
        base64.urlsafe_b64encode(b'[1.0, ""]').decode(),
        base64.urlsafe_b64encode(b'["x", "y"]').decode(),
        base64.urlsafe_b64encode(b'[1e999, "y"]').decode(),
    ],
)
def test_a_bad_cursor_is_refused_with_the_reason(text: str) -> None:
    with pytest.raises(HTTPException) as refused:
        Cursor.decode(text)
    assert refused.value.status_code == 422  # well-formed to the schema (any string), meaningless: 422
    assert "cursor 无效" in str(refused.value.detail)


def test_the_limit_is_1_to_200_and_50_by_default() -> None:
    assert (DEFAULT_LIMIT, MOST_LIMIT) == (50, 200)
    assert checked_limit(1) == 1
    assert checked_limit(MOST_LIMIT) == MOST_LIMIT
    for bad in (0, -1, MOST_LIMIT + 1):
        with pytest.raises(ValidationException) as refused:
            checked_limit(bad)
        assert f"limit 须在 1 到 200 之间，收到 {bad}" in str(refused.value.detail)


def test_the_old_page_and_size_parameters_are_named_in_the_refusal() -> None:
    refuse_legacy({"limit": "5", "cursor": ""})
    with pytest.raises(ValidationException) as refused:
        refuse_legacy({"page": "2", "size": "10"})
    assert "参数 page、size 已停用" in str(refused.value.detail)
