"""Dead letters: a record a service cannot handle, kept whole with the reason, so nothing is lost."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from aiokafka import ConsumerRecord

from shared.envelope import now


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


def dead_letter_for(service: str, record: ConsumerRecord[Any, Any], reason: str) -> DeadLetter:
    return DeadLetter(
        service=service,
        reason=reason,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key.decode(errors="replace") if record.key else None,
        value=record.value or b"",
        headers=[(k, bytes(v)) for k, v in (record.headers or ())],
        failed_at=now(),
    )
