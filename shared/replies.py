"""The answer a service sends back to the gateway for a command (request-reply over Kafka)."""

from __future__ import annotations

import msgspec


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """``status`` is the HTTP status the gateway answers with; ``reason`` is for people (zh-CN)."""

    correlation_id: str
    status: int
    reason: str = ""
    body: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"{}"))

    @property
    def ok(self) -> bool:
        return self.status < 400


def reply(correlation_id: str, status: int, body: msgspec.Struct | None = None, reason: str = "") -> bytes:
    raw = msgspec.Raw(msgspec.json.encode(body)) if body is not None else msgspec.Raw(b"{}")
    return msgspec.json.encode(Reply(correlation_id=correlation_id, status=status, reason=reason, body=raw))


decode_reply = msgspec.json.Decoder(Reply).decode


class Refusal(Exception):
    """A command the rules refuse: it changes nothing and is answered with ``status`` and ``reason`` (zh-CN).

    Raised by a service's pure decisions; the handler turns it into the reply with :meth:`shared.outbox.Txn.refuse`.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
