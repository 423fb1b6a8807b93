"""Routing's Redis rebuilt from Kafka: its own handlers run again over every input it consumed.

Routing keeps one record per case (``case:<id>``: tracks, steps, stage, result, what is owed, suspension,
delivery). Its handlers are deterministic: every change is computed from the input's own data and time stamps,
never from the clock or a random id. So the inputs (intake's and timing's events, the other jurisdiction's
answers, the gateway's commands), replayed in the order routing handled them, give every case back exactly;
``routing.events`` gives that order and the records each input published, which become the outbox markers of
the inputs the consumer group may see again. A replayed input that would now publish something else than the
log shows is counted as diverged (and logged).
"""

from __future__ import annotations

from typing import Any

from services.routing.handlers import Routing
from shared import topics
from shared.contracts import Publications
from shared.rebuild import rebuild_if_empty, rebuild_service, replay
from shared.settings import HallSettings

SERVICE = "routing"
INPUTS = (topics.INTAKE_EVENTS, topics.ROUTING_COMMANDS, topics.TIMING_EVENTS, topics.EXTERNAL_EVENTS)
# routing.events holds every fact routing published. external.requests only repeats 跨省通办's HandedOver for
# the other jurisdiction; read as an output too, its copy would fall before or after the case's own events at
# random (records of two topics come back in no set order) and a replayed handover would look diverged.
OUTPUTS = (topics.ROUTING_EVENTS,)


async def fold_into(settings: HallSettings, redis: Any, publications: Publications) -> str:
    done = await replay(
        settings,
        SERVICE,
        (Routing(settings).table(),),
        publications,
        inputs=INPUTS,
        outputs=OUTPUTS,
        commands=(topics.ROUTING_COMMANDS,),
    )
    await done.memory.flush(redis)
    return (
        f"{done.inputs} input records: {done.replayed} replayed, {done.skipped} refused commands skipped, "
        f"{done.left} left to the consumer, "
        f"{done.diverged} diverged, {done.failures} failed; {done.memory.keys()} keys, {done.markers} markers"
    )


async def rebuild(settings: HallSettings, redis: Any, publications: Publications, *, force: bool) -> str | None:
    """Rebuild routing's keys: always (``force``, ``./hall rebuild routing``) or only when they are gone."""

    async def fold() -> str:
        return await fold_into(settings, redis, publications)

    if force:
        return await rebuild_service(redis, settings.namespace, SERVICE, fold)
    return await rebuild_if_empty(redis, settings.namespace, SERVICE, fold)
