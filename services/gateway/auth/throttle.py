"""Sign-in throttling shared by every gateway instance (Redis): per user id and per client address.

After ``USER_LIMIT`` wrong passwords for one user id, or ``ADDRESS_LIMIT`` from one client address, within
``WINDOW_S``, further sign-ins (``/api/session`` and ``/login``) are answered 429 with ``Retry-After`` until the
window of the first failure ends. A successful sign-in clears the user's count (not the address's).
"""

from __future__ import annotations

from litestar.exceptions import TooManyRequestsException
from redis.asyncio import Redis

from shared.settings import HallSettings

USER_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW_S = 15 * 60


class Throttled(TooManyRequestsException):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            detail=f"登录失败次数过多，请 {max(1, retry_after // 60)} 分钟后再试",
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


class SignInThrottle:
    def __init__(self, settings: HallSettings) -> None:
        self.settings = settings

    def _keys(self, user_id: str, address: str) -> tuple[str, str]:
        return (
            self.settings.key("gateway", "signin", "user", user_id[:128]),
            self.settings.key("gateway", "signin", "addr", address[:64]),
        )

    async def check(self, redis: Redis, user_id: str, address: str) -> None:
        """429 (``Throttled``) while this user id or this address has used up its failures."""
        user_key, address_key = self._keys(user_id, address)
        async with redis.pipeline(transaction=False) as pipe:
            for key in (user_key, address_key):
                pipe.get(key)
                pipe.ttl(key)
            user_count, user_ttl, address_count, address_ttl = await pipe.execute()
        waits = [
            int(ttl) if int(ttl) > 0 else WINDOW_S
            for count, ttl, limit in ((user_count, user_ttl, USER_LIMIT), (address_count, address_ttl, ADDRESS_LIMIT))
            if count is not None and int(count) >= limit
        ]
        if waits:
            raise Throttled(max(waits))

    async def failed(self, redis: Redis, user_id: str, address: str) -> None:
        async with redis.pipeline(transaction=True) as pipe:
            for key in self._keys(user_id, address):
                pipe.incr(key)
                pipe.expire(key, WINDOW_S, nx=True)
            await pipe.execute()

    async def succeeded(self, redis: Redis, user_id: str) -> None:
        await redis.delete(self._keys(user_id, "")[0])
