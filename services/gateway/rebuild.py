"""The gateway's read models rebuilt from Kafka: its projections run again over every events topic they read.

Timelines and case numbers, dossiers and the clerks' own cases, department inboxes, steps and their logs,
escalations, the SLA board, the ratings book and statistics, and the delivery lists are all projections of the
events topics: a replay of every event, in the order they were published, through the same handlers gives them
back; the operations page's dead letters (not events) are read again from the ``deadletter`` topic's start. Sessions
(revocations, not-before stamps), sign-in throttles, per-caller rates, ID-check counts and
Idempotency-Keys are not projections: a rebuild keeps them. A wiped Redis loses them: a retried submission is
still answered once (from intake's markers), and since a lost revocation must not bring a logged-out token back,
every session issued before such a rebuild is refused (``after_loss``: everyone signs in again).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from services.gateway.ops import deadletters as dead_letters
from services.gateway.paging import INDEX_GENERATION, REBUILT
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
    settings: HallSettings,
    redis: Any,
    tables: tuple[HandlerTable, ...],
    publications: Publications,
    after_loss: Callable[[], Awaitable[None]] | None = None,
) -> str:
    done = await replay(settings, SERVICE, tables, publications, inputs=READ_TOPICS)
    # Events the gateway had consumed before (replayed: its group had committed past them) mean it ran, and lost
    # its Redis; a namespace it never ran in has nothing to lose. Before ``built`` is set: until then it answers 503.
    if done.replayed and after_loss is not None:
        await after_loss()
    # Every index was written by this code's projections: none needs building once more (paging.ensure_index).
    done.memory.strings[settings.key(SERVICE, "built-index", REBUILT)] = INDEX_GENERATION.encode()
    await done.memory.flush(redis)
    await dead_letters.read_again(redis, settings)  # /ops's dead letters: read from the topic's start again
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
    after_loss: Callable[[], Awaitable[None]] | None = None,
) -> str | None:
    """Rebuild the read models: always (``force``, ``./hall rebuild gateway``: sessions kept) or only when they are
    gone (``after_loss`` runs when there was something to lose: the gateway had consumed events before)."""

    async def fold() -> str:
        return await fold_into(settings, redis, tables, publications, None if force else after_loss)

    if force:
        return await rebuild_service(redis, settings.namespace, SERVICE, fold, KEEP)
    return await rebuild_if_empty(redis, settings.namespace, SERVICE, fold, KEEP)
