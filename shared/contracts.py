"""What each service publishes, per topic: declared once, checked on every publish, read by the AsyncAPI doc.

A consumer keeps its own view of an event (only the fields it reads); ``tests/unit/test_contracts.py`` checks
every view against the publisher's declaration, so services never import each other yet cannot drift apart.
"""

from __future__ import annotations

import msgspec

from shared import topics
from shared.envelope import type_tag
from shared.settings import HallSettings


class UndeclaredPublication(Exception):
    """A service published what it did not declare: a programming error, caught by the tests."""


class Publications:
    def __init__(self, settings: HallSettings, service: str) -> None:
        self.settings = settings
        self.service = service
        self.replies_topic = settings.topic(topics.GATEWAY_REPLIES)
        self.by_topic: dict[str, tuple[type[msgspec.Struct], ...]] = {}

    def declare(self, topic: str, *payloads: type[msgspec.Struct]) -> None:
        """``topic`` is the short name from :mod:`shared.topics`."""
        self.by_topic[topic] = (*self.by_topic.get(topic, ()), *payloads)

    def check(self, full_topic: str, payload: msgspec.Struct) -> None:
        short = full_topic.removeprefix(f"{self.settings.namespace}.")
        if type(payload) not in self.by_topic.get(short, ()):
            raise UndeclaredPublication(f"{self.service} publishes {type_tag(payload)} on {short} undeclared")
