"""``./hall asyncapi``: the hall's AsyncAPI 3.0 document, generated from what each service declares.

Channels are the topics of :mod:`shared.topics`; a service *sends* what it declares in its publications
and *receives* what its handler tables route; message payloads are the publishers' msgspec structs.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import msgspec

from services.counterpart.app import build as build_counterpart
from services.evaluation.app import build as build_evaluation
from services.gateway.app import build as build_gateway
from services.intake.app import build as build_intake
from services.routing.app import build as build_routing
from services.timing.app import build as build_timing
from shared import topics
from shared.deadletter import DeadLetter
from shared.envelope import Envelope, type_tag
from shared.kafka import ServiceRuntime
from shared.replies import Reply
from shared.settings import HallSettings, load_settings

REF = "#/components/schemas/{name}"


def runtimes(settings: HallSettings) -> list[ServiceRuntime]:
    """Every service's runtime, built without connecting to anything."""
    built = [build(settings) for build in (build_intake, build_routing, build_timing, build_evaluation)]
    # The other province's system, as the demo counterpart that answers 跨省通办 handovers speaks for it.
    return [*built, build_gateway(settings).hall.runtime, build_counterpart(settings)]


def publishers(services: list[ServiceRuntime]) -> dict[tuple[str, str], tuple[str, type[msgspec.Struct]]]:
    """(topic, type tag) -> (publishing service, payload struct)."""
    found: dict[tuple[str, str], tuple[str, type[msgspec.Struct]]] = {}
    for runtime in services:
        for topic, payloads in runtime.publications.by_topic.items():
            for payload in payloads:
                found[(topic, type_tag(payload))] = (runtime.service, payload)
    return found


def document(settings: HallSettings) -> dict[str, Any]:
    services = runtimes(settings)
    published = publishers(services)
    structs = sorted({payload for _, payload in published.values()}, key=lambda t: t.__name__)
    refs, schemas = msgspec.json.schema_components([Envelope, Reply, DeadLetter, *structs], ref_template=REF)
    # Two services may each publish a struct of the same name: msgspec then qualifies the names, so use its refs.
    ref_of = dict(zip(structs, refs[3:], strict=True))
    channels: dict[str, Any] = {
        spec.name: {"address": settings.topic(spec.name), "messages": {}, "x-partitions": spec.partitions}
        for spec in topics.ALL
    }
    messages: dict[str, Any] = {}
    for (topic, tag), (_, payload) in sorted(published.items()):
        messages[tag] = {"name": tag, "payload": ref_of[payload]}
        channels[topic]["messages"][tag] = {"$ref": f"#/components/messages/{tag}"}
    # Not in envelopes: a service's answer to a command, and a record it could not handle.
    for topic, bare in ((topics.GATEWAY_REPLIES, Reply), (topics.DEAD_LETTERS, DeadLetter)):
        messages[bare.__name__] = {"name": bare.__name__, "payload": {"$ref": REF.format(name=bare.__name__)}}
        channels[topic]["messages"][bare.__name__] = {"$ref": f"#/components/messages/{bare.__name__}"}
    operations: dict[str, Any] = {}
    for runtime in services:
        for topic, payloads in runtime.publications.by_topic.items():
            operations[f"{runtime.service}.send.{topic}"] = _operation("send", topic, [type_tag(p) for p in payloads])
        for inputs, tables in runtime.subscriptions:
            tags = {tag for table in tables for tag in table}
            for topic in inputs:
                handled = sorted(tag for tag in tags if (topic, tag) in published)
                operations[f"{runtime.service}.receive.{topic}"] = _operation("receive", topic, handled)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "政务服务大厅 events and commands",
            "version": "1",
            "description": "Every record is an Envelope (JSON) whose `payload` is the message named by its `type`; "
            "the Kafka key is the envelope's case_id; trace context travels in the `traceparent` header.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def _operation(action: str, topic: str, tags: list[str]) -> dict[str, Any]:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{topic}"},
        "messages": [{"$ref": f"#/channels/{topic}/messages/{tag}"} for tag in tags],
    }


if __name__ == "__main__":
    json.dump(document(load_settings()), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
