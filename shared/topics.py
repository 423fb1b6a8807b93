"""Every topic of the hall with its partition count: the one place they are named.

Topics are per owning service. Events are keyed by case id, so one case stays ordered on one partition.
"""

from __future__ import annotations

import msgspec

PARTITIONS = 6


class TopicSpec(msgspec.Struct, frozen=True):
    name: str
    partitions: int


INTAKE_COMMANDS = "intake.commands"
INTAKE_EVENTS = "intake.events"
ROUTING_COMMANDS = "routing.commands"
ROUTING_EVENTS = "routing.events"
TIMING_EVENTS = "timing.events"
EVALUATION_COMMANDS = "evaluation.commands"
EVALUATION_EVENTS = "evaluation.events"
GATEWAY_REPLIES = "gateway.replies"
DEAD_LETTERS = "deadletter"

ALL = (
    TopicSpec(INTAKE_COMMANDS, PARTITIONS),
    TopicSpec(INTAKE_EVENTS, PARTITIONS),
    TopicSpec(ROUTING_COMMANDS, PARTITIONS),
    TopicSpec(ROUTING_EVENTS, PARTITIONS),
    TopicSpec(TIMING_EVENTS, PARTITIONS),
    TopicSpec(EVALUATION_COMMANDS, PARTITIONS),
    TopicSpec(EVALUATION_EVENTS, PARTITIONS),
    # Every gateway instance reads all reply partitions and keeps only the replies it waits for.
    TopicSpec(GATEWAY_REPLIES, 3),
    TopicSpec(DEAD_LETTERS, 1),
)
