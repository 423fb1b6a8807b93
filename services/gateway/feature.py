"""One area of the gateway (cases, steps, the SLA board …): its routes, read models and the commands it sends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from litestar.di import Provide
from litestar.types import ControllerRouterHandler

from shared.kafka import HandlerTable


class Feature(msgspec.Struct, frozen=True, kw_only=True):
    """What a feature package's ``feature(settings)`` gives the composition root.

    ``tables`` are read-model handler tables fed from every events topic; ``publishes`` names the commands the
    feature sends on each topic; ``dependencies`` are its read models, injected into its handlers by name.
    """

    routes: Sequence[ControllerRouterHandler] = ()
    tables: Sequence[HandlerTable] = ()
    publishes: Mapping[str, Sequence[type[msgspec.Struct]]] = {}
    dependencies: Mapping[str, Provide] = {}


def provide(value: Any) -> Provide:
    """A dependency that is always the same object (a read model built once)."""
    return Provide(lambda: value, sync_to_thread=False, use_cache=True)
