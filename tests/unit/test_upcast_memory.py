"""The registry remembers tags that nothing upcasts, and forgets them when an upcaster is registered."""

from __future__ import annotations

from typing import Any

from shared.upcast import Upcasters


def test_a_tag_seen_as_current_is_upcast_once_an_upcaster_for_it_is_registered() -> None:
    registry = Upcasters()
    assert registry.apply("Thing.v1", b'{"a":1}') == ("Thing.v1", b'{"a":1}')  # remembered as current

    @registry.register("Thing", 1)
    def _thing_v1(payload: dict[str, Any]) -> dict[str, Any]:
        return {**payload, "b": 2}

    assert registry.apply("Thing.v1", b'{"a":1}') == ("Thing.v2", b'{"a":1,"b":2}')
    registry.unregister("Thing", 1)
    assert registry.apply("Thing.v1", b'{"a":1}') == ("Thing.v1", b'{"a":1}')
