"""Session tokens expire on the directory's clock, not on the real date."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from litestar.exceptions import NotAuthorizedException

from services.gateway.users import TOKEN_TTL_S, Directory
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
