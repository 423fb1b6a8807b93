"""Session tokens expire on the directory's clock, not on the real date."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from litestar.exceptions import NotAuthorizedException

from services.gateway.users import TOKEN_TTL_S, VERIFIED_KEPT, Directory
from shared.clock import ManualClock
from shared.localtime import LOCAL


def test_a_token_lasts_its_ttl_on_the_injected_clock() -> None:
    clock = ManualClock(datetime(2031, 2, 3, 9, 0, tzinfo=LOCAL))
    users = Directory("secret", clock=clock)
    user = users.get("clerk-zhang")
    assert user is not None
    token = users.token(user)
    clock.advance(timedelta(seconds=TOKEN_TTL_S))
    assert users._from_token(token) == user
    clock.advance(timedelta(seconds=1))
    with pytest.raises(NotAuthorizedException, match="过期"):
        users._from_token(token)


def test_a_checked_token_is_kept_but_a_changed_one_is_checked_again() -> None:
    users = Directory("secret")
    user = users.get("clerk-zhang")
    assert user is not None
    token = users.token(user)
    assert users.verify(token).user == user
    assert users.verify(token).user == user  # kept: no second HMAC
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    with pytest.raises(NotAuthorizedException, match="无效"):
        users.verify(forged)
    other = Directory("another secret")
    with pytest.raises(NotAuthorizedException, match="无效"):
        other.verify(token)  # kept per directory (per process), never across secrets


def test_the_kept_tokens_are_bounded() -> None:
    users = Directory("secret")
    user = users.get("clerk-zhang")
    assert user is not None
    first = users.token(user)
    users.verify(first)
    for _ in range(VERIFIED_KEPT + 10):
        users.verify(users.token(user))
    assert len(users._verified) == VERIFIED_KEPT
    assert first not in users._verified  # the oldest went first
    assert users.verify(first).user == user  # and is simply checked again
