"""A dict-backed :class:`shared.outbox.Txn` for unit tests of handlers: no Kafka, no Redis.

``FakeTxn`` is a real ``Txn`` (the same methods, the same publication checks, the same reply bytes) over
:class:`MemoryStore`, a dict standing in for Redis. ``commit()`` runs the queued writes on the store, as
``shared.outbox.run_once`` runs them in its MULTI; the next record's ``FakeTxn`` on the same store sees them.
"""

from __future__ import annotations

from typing import Any, cast

import msgspec

from shared.contracts import Publications
from shared.envelope import Envelope, type_tag
from shared.outbox import Txn
from shared.replies import Reply, decode_reply
from tests.unit.readmodels import MemoryRedis


class MemoryStore(MemoryRedis):
    """:class:`tests.unit.readmodels.MemoryRedis` with the commands handlers' writes and counters use besides."""

    async def immediate_execute_command(self, command: str, key: str) -> int:
        assert command == "INCR", f"MemoryStore has no {command}"
        return self.incr(key)

    def incr(self, key: str, by: int = 1) -> int:
        value = int(self.data.get(key, b"0")) + by
        self.data[key] = str(value).encode()
        return value

    async def scard(self, key: str) -> int:
        return len(self.data.get(key, set()))

    async def smismember(self, key: str, members: list[str]) -> list[bool]:
        found = self.data.get(key, set())
        return [m.encode() in found for m in members]


class FakeTxn(Txn):
    """One record's transaction over ``store``; ``events`` and ``reply`` read back what the handler queued."""

    def __init__(self, store: MemoryStore, cause: Envelope, publications: Publications) -> None:
        super().__init__(cast("Any", store), cause, publications)
        self.store = store

    def commit(self) -> None:
        for write in self.writes:
            write(cast("Any", self.store))

    @property
    def events(self) -> list[Envelope]:
        """The events queued, in order (the reply excluded)."""
        replies = self._publications.replies_topic
        return [msgspec.json.decode(o.value, type=Envelope) for o in self.outgoing if o.topic != replies]

    def payloads(self, type_: type[Any]) -> list[Any]:
        """The queued events of one payload type, decoded."""
        return [msgspec.json.decode(e.payload, type=type_) for e in self.events if e.type == type_tag(type_)]

    @property
    def reply(self) -> Reply | None:
        replies = [o for o in self.outgoing if o.topic == self._publications.replies_topic]
        assert len(replies) <= 1, "a command is answered once"
        return decode_reply(replies[0].value) if replies else None

    def body(self, type_: type[Any]) -> Any:
        """The reply's body as ``type_``."""
        assert self.reply is not None, "no reply queued"
        return msgspec.json.decode(self.reply.body, type=type_)
