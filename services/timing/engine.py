"""The one engine every deadline goes through: each hall's calendar and alert rules, over the known years.

Years an operator loaded live in Redis; an instance reloads them when their version changes (checked by the
scheduler every second, and at once before refusing a computation for an unknown year).
"""

from __future__ import annotations

from redis.asyncio import Redis

from services.timing.clocks import ClockState
from services.timing.store import Keys, loaded_years, years_version
from shared.calendar import WorkingCalendar, Years
from shared.halls import HallPolicy, Halls

DEFAULT_HALL = "hall"


class Engine:
    def __init__(self, halls: Halls, years: Years | None = None) -> None:
        self.halls = halls
        self.years = years or Years()
        self.version = -1
        self._calendars: dict[str, WorkingCalendar] = {}

    def use(self, years: Years) -> None:
        self.years = years
        self._calendars = {}

    def policy(self, hall: str) -> HallPolicy:
        return self.halls.policy(hall or DEFAULT_HALL)

    def calendar(self, hall: str) -> WorkingCalendar:
        code = hall or DEFAULT_HALL
        cal = self._calendars.get(code)
        if cal is None:
            cal = self._calendars[code] = WorkingCalendar(self.policy(code).sessions, self.years)
        return cal

    def of(self, clock: ClockState) -> tuple[WorkingCalendar, HallPolicy]:
        return self.calendar(clock.hall), self.policy(clock.hall)

    async def refresh(self, redis: Redis, keys: Keys) -> bool:
        """Reloads the loaded years if an operator changed them; True when they changed."""
        version = await years_version(redis, keys)
        if version == self.version:
            return False
        self.use(Years(await loaded_years(redis, keys)))
        self.version = version
        return True
