"""The gateway's read models rebuilt from Kafka: its projections run again over every events topic they read.

Timelines and case numbers, dossiers and the clerks' own cases, department inboxes, steps and their logs,
escalations, the SLA board, the ratings book and statistics, and the delivery lists are all projections of the
events topics: a replay of every event, in the order they were published, through the same handlers gives them
back. Sessions (revocations, not-before stamps), sign-in throttles, per-caller rates, ID-check counts and
Idempotency-Keys are not projections: a rebuild keeps them (a wiped Redis loses them; a retried submission is
still answered once, from intake's markers).
"""

from __future__ import annotations

from typing import Any

from shared import topics
from shared.contracts import Publications
from shared.kafka import HandlerTable
from shared.rebuild import rebuild_if_empty, rebuild_service, replay
from shared.settings import HallSettings

SERVICE = "gateway"
READ_TOPICS = (
    topics.INTAKE_EVENTS,
    topics.ROUTING_EVENTS,
    topics.TIMING_EVENTS,
    topics.EVALUATION_EVENTS,
    topics.EXTERNAL_EVENTS,
)
KEEP = ("session:", "rate:", "idcheck:", "idem:", "signin:")


async def fold_into(
    settings: HallSettings, redis: Any, tables: tuple[HandlerTable, ...], publications: Publications
) -> str:
    done = await replay(settings, SERVICE, tables, publications, inputs=READ_TOPICS)
    await done.memory.flush(redis)
    return (
        f"{done.inputs} events: {done.replayed} replayed, {done.left} left to the consumer, {done.failures} failed; "
        f"{done.memory.keys()} keys, {done.markers} markers"
    )


async def rebuild(
    settings: HallSettings,
    redis: Any,
    tables: tuple[HandlerTable, ...],
    publications: Publications,
    *,
    force: bool,
) -> str | None:
    """Rebuild the read models: always (``force``, ``./hall rebuild gateway``) or only when they are gone."""

    async def fold() -> str:
        return await fold_into(settings, redis, tables, publications)

    if force:
        return await rebuild_service(redis, settings.namespace, SERVICE, fold, KEEP)
    return await rebuild_if_empty(redis, settings.namespace, SERVICE, fold, KEEP)
