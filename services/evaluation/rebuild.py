"""Evaluation's Redis rebuilt from Kafka: its own handlers run again over every input it consumed.

Evaluation keeps each case's file (``case:<id>``: the services open for rating, their windows, first ratings,
追评 and follow-ups), each bad review's follow-up (``followup:<id>``) and the rating links already used
(``token:<nonce>``). Its handlers compute all of it from the inputs (intake's and routing's case facts,
timing's clocks, the gateway's rating commands) and the county's rules, with two exceptions a replay supplies
from ``evaluation.events``: the id of each rating (random when first recorded: the replay takes the one the log
holds for that input) and the clock (only used to wait for a case not known yet: never needed in a replay,
which follows the order evaluation handled its inputs in). Markers for what the group may see again come from
the log as in every rebuild.
"""

from __future__ import annotations

import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

import msgspec

from services.evaluation import handlers as case_handlers
from services.evaluation.followup_handlers import FollowUps
from services.evaluation.handlers import CaseClocks
from services.evaluation.rating_handlers import Ratings
from services.evaluation.store import Store
from services.evaluation.tokens import LinkSigner
from shared import topics
from shared.clock import ManualClock
from shared.contracts import Publications
from shared.envelope import Envelope, decode
from shared.outbox import Outgoing
from shared.rating_policy import RatingPolicy
from shared.rebuild import rebuild_if_empty, rebuild_service, replay
from shared.settings import HallSettings

SERVICE = "evaluation"
INPUTS = (topics.INTAKE_EVENTS, topics.ROUTING_EVENTS, topics.TIMING_EVENTS, topics.EVALUATION_COMMANDS)
OUTPUTS = (topics.EVALUATION_EVENTS,)


class _RatingId(msgspec.Struct):
    rating_id: str = ""


class _LoggedIds:
    """Stands in for ``uuid`` in evaluation's handlers during a replay: the rating ids the log holds."""

    def __init__(self) -> None:
        self.queue: deque[str] = deque()

    def uuid4(self) -> uuid.UUID:
        return uuid.UUID(hex=self.queue.popleft()) if self.queue else uuid.uuid4()

    def before_each(self, _: Envelope, logged: list[Outgoing]) -> None:
        self.queue.clear()
        for record in logged:
            if record.topic.endswith(f".{topics.GATEWAY_REPLIES}"):
                continue  # a reply to the gateway is not an envelope
            env = decode(record.value)
            if env.type == "RatingRecorded.v1":
                self.queue.append(msgspec.json.decode(env.payload, type=_RatingId).rating_id)


def tables(settings: HallSettings, policy: RatingPolicy) -> tuple[Any, ...]:
    """Evaluation's handler tables as ``app.build`` wires them, with a clock far after every input."""
    store = Store(settings)
    later = ManualClock(datetime(9999, 1, 1, tzinfo=UTC))
    return (
        CaseClocks(store, policy, settings.region_code).table(),
        Ratings(store, policy, LinkSigner(settings.secret, settings.secret_previous), later).table(),
        FollowUps(store, policy).table(),
    )


async def fold_into(settings: HallSettings, redis: Any, publications: Publications, policy: RatingPolicy) -> str:
    ids = _LoggedIds()
    names = vars(case_handlers)
    real, names["uuid"] = names["uuid"], ids  # the logged rating ids, for this replay only
    try:
        done = await replay(
            settings,
            SERVICE,
            tables(settings, policy),
            publications,
            inputs=INPUTS,
            outputs=OUTPUTS,
            commands=(topics.EVALUATION_COMMANDS,),
            before_each=ids.before_each,
        )
    finally:
        names["uuid"] = real
    await done.memory.flush(redis)
    return (
        f"{done.inputs} input records: {done.replayed} replayed, {done.skipped} refused commands skipped, "
        f"{done.left} left to the consumer, "
        f"{done.diverged} diverged, {done.failures} failed; {done.memory.keys()} keys, {done.markers} markers"
    )


async def rebuild(
    settings: HallSettings, redis: Any, publications: Publications, policy: RatingPolicy, *, force: bool
) -> str | None:
    """Rebuild evaluation's keys: always (``force``, ``./hall rebuild evaluation``) or only when they are gone."""

    async def fold() -> str:
        return await fold_into(settings, redis, publications, policy)

    if force:
        return await rebuild_service(redis, settings.namespace, SERVICE, fold)
    return await rebuild_if_empty(redis, settings.namespace, SERVICE, fold)
