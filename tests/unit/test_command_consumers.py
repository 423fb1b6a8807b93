"""Every service that takes commands reads them on a consumer of its own (issue 16, item 2): a staff click or a
rating never waits behind a backlog of events. Each topic is read by exactly one consumer of the service, and the
topics a service reacts to only now and then (timing's for intake, routing and evaluation; routing's for intake) by
a patient one that fetches a few times a second, not once for every record."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.evaluation.app import build as build_evaluation
from services.intake.app import build as build_intake
from services.routing.app import build as build_routing
from shared import topics
from shared.kafka import ServiceRuntime
from shared.settings import load_settings

SETTINGS = load_settings(kafka_bootstrap_servers="127.0.0.1:1", redis_url="redis://127.0.0.1:1/0", secret="s" * 32)


@pytest.mark.parametrize(
    ("build", "commands"),
    [
        (build_intake, topics.INTAKE_COMMANDS),
        (build_routing, topics.ROUTING_COMMANDS),
        (build_evaluation, topics.EVALUATION_COMMANDS),
    ],
)
def test_commands_have_a_consumer_of_their_own(build: Callable[..., ServiceRuntime], commands: str) -> None:
    runtime = build(SETTINGS)
    consumers = [inputs for inputs, _ in runtime.subscriptions]
    assert [commands] in consumers
    every = [topic for inputs in consumers for topic in inputs]
    assert len(every) == len(set(every))  # no topic read twice by one service
    assert commands not in runtime.patient_topics


@pytest.mark.parametrize(
    ("build", "patient"),
    [
        (build_intake, {topics.TIMING_EVENTS, topics.ROUTING_EVENTS}),
        (build_routing, {topics.TIMING_EVENTS}),
        (build_evaluation, {topics.TIMING_EVENTS}),
    ],
)
def test_timing_events_are_read_patiently(build: Callable[..., ServiceRuntime], patient: set[str]) -> None:
    runtime = build(SETTINGS)
    assert runtime.patient_topics == patient
