"""Every topic of the hall with its partition count: the one place they are named.

Topics are per owning service. Events are keyed by case id, so one case stays ordered on one partition.

Every events and commands topic is kept forever (``retention.ms`` and ``retention.bytes`` -1, whatever the
broker's defaults): each service rebuilds its Redis from them (:mod:`shared.rebuild`). Replies are kept as long as
the outbox markers that may re-send them (14 days).
"""

from __future__ import annotations

import msgspec
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

from shared.settings import HallSettings

PARTITIONS = 6
FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}
REPLIES_KEPT = {"retention.ms": str(14 * 24 * 3600 * 1000), "retention.bytes": "-1"}


class TopicSpec(msgspec.Struct, frozen=True):
    name: str
    partitions: int
    configs: dict[str, str] = msgspec.field(default_factory=lambda: dict(FOREVER))


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
    TopicSpec(GATEWAY_REPLIES, 3, REPLIES_KEPT),
    TopicSpec(DEAD_LETTERS, 1),
)


async def ensure_topics(settings: HallSettings) -> list[str]:
    """Create the hall's topics that do not exist yet, and set every topic's retention; returns the names it
    created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in ALL if settings.topic(t.name) not in existing]
        created: list[str] = []
        for spec in wanted:
            try:
                topic = NewTopic(
                    settings.topic(spec.name), spec.partitions, replication_factor=1, topic_configs=spec.configs
                )
                await admin.create_topics([topic])
                created.append(settings.topic(spec.name))
            except TopicAlreadyExistsError:
                pass  # another process created it first
        # Topics created before retention was set get it now (the same values again change nothing).
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, settings.topic(t.name), t.configs) for t in ALL if t.configs]
        )
        return created
    finally:
        await admin.close()
