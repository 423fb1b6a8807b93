"""Healing what older versions of timing refused for a year they lacked (before provisional years existed).

They published ``ClockRefused`` and kept ``timing:refused:<clock id>``; events about such a case changed nothing,
and an extension that reached such a year was dead-lettered after three attempts. When timing starts (before
its first alert claim) it:

- replays, in the order they happened, every input event of each case with a refused clock, with the refusal
  marks gone: the clocks start (provisionally where they must) and their pauses, extensions and stops follow.
  Handlers are idempotent on the clocks' own state and each replayed event runs once (its own marker);
- re-drives timing's dead letters whose reason was the missing year, each once (the handler's usual marker).

Nothing is applied twice: a second start finds no refusal and every dead letter's marker.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from services.timing.rebuild import read_log, read_topic
from services.timing.store import Keys
from shared import topics
from shared.deadletter import decode_dead_letter
from shared.envelope import Envelope, decode
from shared.kafka import HandlerTable, ServiceRuntime
from shared.outbox import Txn, run_once

log = logging.getLogger("hall.timing.heal")
INPUTS = (topics.INTAKE_EVENTS, topics.ROUTING_EVENTS, topics.EVALUATION_EVENTS)
MISSING_YEAR = ("UnknownYear", "工作日历缺少")


async def heal(runtime: ServiceRuntime, table: HandlerTable) -> tuple[int, int]:
    """Replays the cases with refused clocks and re-drives the calendar's dead letters; how many of each."""
    keys, redis = Keys(runtime.settings), runtime.redis
    refused = [key.decode() async for key in redis.scan_iter(match=keys.refused("*"), count=1000)]
    cases = 0
    if refused:
        folded = await read_log(runtime)
        prefix = keys.refused("")
        wanted = {folded.refused_cases.get(key[len(prefix) :], key[len(prefix) :]) for key in refused}
        events = [
            env
            for topic in INPUTS
            for env in _envelopes(await read_topic(runtime.settings, topic))
            if env.case_id in wanted
        ]
        await redis.delete(*refused)
        for env in sorted(events, key=lambda e: e.occurred_at):
            await _apply(runtime, table, env, runtime.settings.key("timing", "healed", env.event_id))
        cases = len(wanted)
        log.info("timing healed %d cases whose clocks were refused (%d events replayed)", cases, len(events))
    letters = 0
    for value in await read_topic(runtime.settings, topics.DEAD_LETTERS):
        try:
            letter = decode_dead_letter(value)
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
        if letter.service != runtime.service or not any(word in letter.reason for word in MISSING_YEAR):
            continue
        env = decode(letter.value)
        if await _apply(runtime, table, env, runtime.settings.key(runtime.service, "done", env.event_id)):
            letters += 1
    if letters:
        log.info("timing re-drove %d dead-lettered events the calendar had refused", letters)
    return cases, letters


def _envelopes(values: list[bytes]) -> list[Envelope]:
    found = []
    for value in values:
        try:
            found.append(decode(value))
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
    return found


async def _apply(runtime: ServiceRuntime, table: HandlerTable, env: Envelope, marker: str) -> bool:
    """Runs the event's handler once under ``marker`` and publishes what it emits; False if not handled here."""
    route = table.get(env.type)
    if route is None:
        return False
    payload: Any = msgspec.json.decode(env.payload, type=route.payload)

    async def handle(txn: Txn) -> None:
        await route.handler(env, payload, txn)

    await runtime.publish_all(await run_once(runtime.redis, marker, env, handle, runtime.publications))
    return True
