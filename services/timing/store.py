"""Timing's Redis keys and how a clock is kept there.

- ``timing:clock:<clock id>``  the clock (msgpack), rebuilt from ``timing.events`` when wiped;
- ``timing:case:<case id>``    hash clock id → purpose: a case's other clocks (its own has the case id);
- ``timing:due``               sorted set clock id → when its next alert level is due (epoch seconds);
- ``timing:inflight``          sorted set clock id → lease end, while an instance fires it;
- ``timing:alerted:<clock id>:<level>[:<revision>]``  the outbox marker of an alert: it is raised once (per
  revision of the clock's deadlines);
- ``timing:provisional:<year>`` set of running clocks whose times depend on that provisional year, and
  ``timing:provisional-years`` the years that have such a set: revised when a year becomes official;
- ``timing:outbox``            hash event id → a record committed but maybe not published yet (alerts and
  revisions), published again by whichever instance finds it;
- ``timing:calendar``          hash year → a loaded year (JSON), ``timing:calendar:version`` bumped on load;
- ``timing:refused:<clock id>`` a clock the calendar could not start; ``timing:built`` set once rebuilt.
"""

from __future__ import annotations

from typing import Any, cast

import msgspec
from redis.asyncio import Redis

from services.timing.clocks import ClockState
from shared.calendar import YearPlan
from shared.localtime import LOCAL
from shared.settings import HallSettings

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(ClockState)
_plan = msgspec.json.Decoder(YearPlan)

# Moves the due members (and members whose lease ran out) to the in-flight set with a new lease, atomically:
# of several timing instances polling the same set, exactly one gets each member.
CLAIM = """
local taken = {}
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[4]))
for _, member in ipairs(stale) do
  redis.call('ZADD', KEYS[2], ARGV[3], member)
  taken[#taken + 1] = member
end
local room = tonumber(ARGV[4]) - #taken
if room > 0 then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, room)
  for _, member in ipairs(due) do
    redis.call('ZREM', KEYS[1], member)
    redis.call('ZADD', KEYS[2], ARGV[3], member)
    taken[#taken + 1] = member
  end
end
return taken
"""

# Ends the leases given (ARGV[2..]) that are still ours, ARGV[1] (another instance may hold a newer one).
RELEASE = """
local released = 0
for n = 2, #ARGV do
  local held = redis.call('ZSCORE', KEYS[1], ARGV[n])
  if held and tonumber(held) == tonumber(ARGV[1]) then
    released = released + redis.call('ZREM', KEYS[1], ARGV[n])
  end
end
return released
"""


class Keys:
    def __init__(self, settings: HallSettings) -> None:
        self.settings = settings
        self.due = self._k("due")
        self.inflight = self._k("inflight")
        self.years = self._k("calendar")
        self.years_version = self._k("calendar", "version")
        self.built = self._k("built")
        self.provisional_years = self._k("provisional-years")
        self.outbox = self._k("outbox")

    def _k(self, *parts: str) -> str:
        return self.settings.key("timing", *parts)

    def clock(self, clock_id: str) -> str:
        return self._k("clock", clock_id)

    def case(self, case_id: str) -> str:
        return self._k("case", case_id)

    def refused(self, clock_id: str) -> str:
        return self._k("refused", clock_id)

    def alerted(self, clock_id: str, level: str, revision: int = 0) -> str:
        return self._k("alerted", clock_id, level, *([str(revision)] if revision else []))

    def provisional(self, year: int) -> str:
        return self._k("provisional", str(year))

    @property
    def pattern(self) -> str:
        """Every key of timing in this namespace."""
        return self._k("*")


def encode_clock(clock: ClockState) -> bytes:
    """A case's own clock has the case's id: it is not stored twice."""
    if clock.case_id == clock.clock_id:
        clock = msgspec.structs.replace(clock, case_id="")
    return _encoder.encode(clock)


def decode_clock(data: bytes) -> ClockState:
    """A stored clock, its instants in the hall's local time (msgpack keeps them as UTC timestamps)."""
    clock = _decoder.decode(data)
    clock.case_id = clock.case_id or clock.clock_id
    for name in ("started_at", "base_promised", "promised_deadline"):
        setattr(clock, name, getattr(clock, name).astimezone(LOCAL))
    for name in ("not_after", "base_statutory", "statutory_deadline", "stopped_at"):
        value = getattr(clock, name)
        if value is not None:
            setattr(clock, name, value.astimezone(LOCAL))
    clock.pauses = [
        msgspec.structs.replace(p, start=p.start.astimezone(LOCAL), end=p.end and p.end.astimezone(LOCAL))
        for p in clock.pauses
    ]
    clock.extensions = [msgspec.structs.replace(e, at=e.at.astimezone(LOCAL)) for e in clock.extensions]
    return clock


def encode_plan(plan: YearPlan) -> bytes:
    return msgspec.json.encode(plan)


async def years_version(redis: Redis, keys: Keys) -> int:
    return int(cast("bytes | None", await redis.get(keys.years_version)) or 0)


async def loaded_years(redis: Redis, keys: Keys) -> list[YearPlan]:
    """Every year loaded by an operator."""
    raw = cast("dict[bytes, bytes]", await redis.hgetall(keys.years))
    return [_plan.decode(value) for value in raw.values()]


async def store_year(redis: Redis, keys: Keys, plan: YearPlan) -> int:
    """Keeps a loaded year and bumps the version running instances watch; returns the new version."""
    pipe: Any
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(keys.years, str(plan.year), encode_plan(plan))
        pipe.incr(keys.years_version)
        _, version = await pipe.execute()
    return int(version)
