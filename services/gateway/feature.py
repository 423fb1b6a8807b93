"""One area of the gateway (cases, steps, the SLA board …): its routes, read models and the commands it sends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from litestar.di import NamedDependency, Provide
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


def provide_root(value: Any) -> Provide:
    """The ``hall`` dependency (:class:`services.gateway.context.Gateway`): always the same object."""
    return Provide(lambda: value, sync_to_thread=False, use_cache=True)


def provide(value: Any) -> Provide:
    """A read model's dependency: always the same object, resolved after ``hall``.

    Litestar resolves the dependencies of one level together, in a task group created on every request (costly:
    litestar-org/litestar#4563). Naming ``hall`` puts a read model one level below it, so a handler that asks for
    ``hall`` and one read model (every list and page) gets them one after the other, without a task group.
    """

    def read_model(hall: NamedDependency[Any]) -> Any:  # noqa: ARG001 (the level, not the value)
        return value

    return Provide(read_model, sync_to_thread=False, use_cache=True)
