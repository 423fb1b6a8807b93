"""Timing's own outbox for the records its scheduler and reviser commit outside a handler (alerts, revisions).

They are staged in ``timing:outbox`` in the same Redis transaction as the clock change that causes them, and
removed once Kafka has them. Whatever a crash or a broker outage left there is published again by the next
flush of any instance; consumers drop a record they have seen by its event id.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, cast

import msgspec

from services.timing.store import Keys
from shared.clock import SYSTEM_CLOCK
from shared.kafka import ServiceRuntime
from shared.outbox import Outgoing

log = logging.getLogger("hall.timing.outbox")


class Staged(msgspec.Struct, frozen=True):
    at: float  # when it was staged (epoch seconds): a fresh record is left to the instance publishing it
    record: Outgoing


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Staged).decode


class Outbox:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.key = Keys(runtime.settings).outbox

    def stage(self, pipe: Any, records: list[Outgoing]) -> list[str]:
        """Queues the records in the transaction ``pipe`` is building; returns their outbox ids."""
        if not records:
            return []
        now = SYSTEM_CLOCK.now().timestamp()
        staged = {uuid.uuid4().hex: _encode(Staged(now, record)) for record in records}
        pipe.hset(self.key, mapping=staged)
        return list(staged)

    async def publish(self, ids: list[str], records: list[Outgoing]) -> None:
        """Publishes committed records (acks=all), then takes them out of the outbox."""
        if not records:
            return
        await self.runtime.publish_all(records)
        await self.runtime.redis.hdel(self.key, *ids)

    async def flush(self, older_than_s: float = 10.0) -> int:
        """Publishes what was staged more than ``older_than_s`` ago and never taken out; returns how many."""
        raw = cast("dict[bytes, bytes]", await self.runtime.redis.hgetall(self.key))
        cutoff = SYSTEM_CLOCK.now().timestamp() - older_than_s
        stale = {field.decode(): _decode(value) for field, value in raw.items()}
        stale = {field: staged for field, staged in stale.items() if staged.at <= cutoff}
        if stale:
            log.warning("timing outbox: publishing %d records left unpublished", len(stale))
            await self.publish(list(stale), [staged.record for staged in stale.values()])
        return len(stale)
