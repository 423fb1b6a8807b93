"""Dead letters: a record a service cannot handle, kept whole with the reason, so nothing is lost."""

from __future__ import annotations

from datetime import datetime

import msgspec


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    service: str
    reason: str
    topic: str
    partition: int
    offset: int
    key: str | None
    # The original record value and headers, byte for byte (base64 in JSON).
    value: bytes
    headers: list[tuple[str, bytes]]
    failed_at: datetime


decode_dead_letter = msgspec.json.Decoder(DeadLetter).decode
