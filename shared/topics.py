"""Every topic of the hall with its partition count: the one place they are named.

Topics are per owning service. Events are keyed by case id, so one case stays ordered on one partition.
"""

from __future__ import annotations

import msgspec
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.settings import HallSettings

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
EXTERNAL_REQUESTS = "external.requests"
EXTERNAL_EVENTS = "external.events"
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
    # 跨省通办: cases handed to another jurisdiction, and its receipts and results.
    TopicSpec(EXTERNAL_REQUESTS, PARTITIONS),
    TopicSpec(EXTERNAL_EVENTS, PARTITIONS),
    # Every gateway instance reads all reply partitions and keeps only the replies it waits for.
    TopicSpec(GATEWAY_REPLIES, 3),
    TopicSpec(DEAD_LETTERS, 1),
)


async def ensure_topics(settings: HallSettings) -> list[str]:
    """Create the hall's topics that do not exist yet; returns the names it created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in ALL if settings.topic(t.name) not in existing]
        created: list[str] = []
        for spec in wanted:
            try:
                await admin.create_topics([NewTopic(settings.topic(spec.name), spec.partitions, replication_factor=1)])
                created.append(settings.topic(spec.name))
            except TopicAlreadyExistsError:
                pass  # another process created it first
        return created
    finally:
        await admin.close()
