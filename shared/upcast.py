"""Upcasters: how an event written under an older tag version reads under the current one.

Events evolve additively (a new payload field has a default). A change that cannot be additive (a field
renamed, split, retyped or newly required) is a new tag version: the struct's ``version`` class attribute goes
from N to N+1, so it publishes ``Name.vN+1``, and an upcaster from ``Name.vN`` to ``Name.vN+1`` is registered
here, in the one registry. :func:`shared.envelope.decode` applies the chain on every record it decodes (consume,
rebuild, heal), so handlers route only the newest tag; ``tests/unit/test_contracts.py`` refuses a tag version
bump without its upcasters.

An upcaster is a pure function on the payload as JSON (a dict): it names no other service's struct, so
services still never import each other.

    @UPCASTERS.register("StepOpened", 1)
    def _step_opened_v1(payload: dict[str, Any]) -> dict[str, Any]:
        return {**payload, "item_case_no": payload.get("item_case_no") or payload["case_no"]}
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import msgspec

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
MAX_REMEMBERED = 4096  # the hall has about 150 tags; a bound all the same, whatever a topic holds


def split_tag(tag: str) -> tuple[str, int] | None:
    """``("CaseAccepted", 1)`` for ``CaseAccepted.v1``; None for a tag without a version."""
    name, sep, version = tag.rpartition(".v")
    return (name, int(version)) if sep and name and version.isdigit() else None


class Upcasters(Mapping[tuple[str, int], Upcaster]):
    """(type name, from version) → the function that turns that version's payload into the next one's."""

    def __init__(self) -> None:
        self._steps: dict[tuple[str, int], Upcaster] = {}
        self._current: set[str] = set()  # tags seen that nothing upcasts: every record decoded asks, most of these

    def __getitem__(self, key: tuple[str, int]) -> Upcaster:
        return self._steps[key]

    def __iter__(self) -> Iterator[tuple[str, int]]:
        return iter(self._steps)

    def __len__(self) -> int:
        return len(self._steps)

    def register(self, name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorate the upcaster from ``name.v{from_version}`` to ``name.v{from_version + 1}``."""

        def add(step: Upcaster) -> Upcaster:
            if (name, from_version) in self._steps:
                raise ValueError(f"{name}.v{from_version} already has an upcaster")
            self._steps[(name, from_version)] = step
            self._current.clear()
            return step

        return add

    def unregister(self, name: str, from_version: int) -> None:
        self._steps.pop((name, from_version), None)
        self._current.clear()

    def latest(self, tag: str) -> str:
        """The tag ``tag`` reads as once upcast (itself when nothing is registered for it)."""
        parsed = split_tag(tag)
        if parsed is None:
            return tag
        name, version = parsed
        while (name, version) in self._steps:
            version += 1
        return f"{name}.v{version}"

    def apply(self, tag: str, payload: bytes) -> tuple[str, bytes]:
        """The newest tag and its payload for a record written as ``tag``; the same bytes when none applies."""
        if tag in self._current:
            return tag, payload
        parsed = split_tag(tag)
        if parsed is None or parsed not in self._steps:
            if len(self._current) < MAX_REMEMBERED:
                self._current.add(tag)
            return tag, payload
        name, version = parsed
        data: dict[str, Any] = msgspec.json.decode(payload, type=dict[str, Any])
        while (name, version) in self._steps:
            try:
                data = self._steps[(name, version)](data)
            except (KeyError, TypeError, ValueError) as exc:
                # A record the upcaster cannot read is malformed, not transient: it goes to the dead letters.
                raise msgspec.ValidationError(f"{name}.v{version} 无法升级 (upcast failed): {exc!r}") from exc
            version += 1
        return f"{name}.v{version}", msgspec.json.encode(data)


UPCASTERS = Upcasters()
"""The hall's registry. Register every upcaster below this line, oldest first, with the reason it exists."""
