"""Services never import each other's messages: these tests keep every consumer's view true to its publisher."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from deploy.asyncapi import document, publishers, runtimes
from shared.contracts import UndeclaredPublication
from shared.envelope import type_tag
from shared.kafka import ServiceRuntime
from shared.settings import load_settings

SETTINGS = load_settings({})
SERVICES = runtimes(SETTINGS)
PUBLISHED = publishers(SERVICES)


def consumed(runtime: ServiceRuntime) -> list[tuple[list[str], str, type[msgspec.Struct]]]:
    """(input topics, type tag, the consumer's view) for everything a service reacts to."""
    return [
        (inputs, tag, route.payload)
        for inputs, tables in runtime.subscriptions
        for table in tables
        for tag, route in table.items()
    ]


CONSUMED = [(r.service, *entry) for r in SERVICES for entry in consumed(r)]
IDS = [f"{service}:{tag}" for service, _, tag, _ in CONSUMED]


def json_types(schema: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    """The JSON kinds a field's schema admits, e.g. {"string:date-time", "null"}."""
    if "$ref" in schema:
        return {"object"} if "properties" in defs[schema["$ref"].rsplit("/", 1)[-1]] else {"string"}
    if "anyOf" in schema:
        return set().union(*(json_types(s, defs) for s in schema["anyOf"]))
    if "enum" in schema or "const" in schema:
        return {"string"} if all(isinstance(v, str) for v in schema.get("enum", [schema.get("const")])) else {"any"}
    kind = schema.get("type", "any")
    return {f"{kind}:{schema['format']}" if "format" in schema else str(kind)}


def fields(struct: type[msgspec.Struct]) -> tuple[dict[str, Any], set[str], dict[str, Any]]:
    schema = msgspec.json.schema(struct)
    defs = schema.get("$defs", {})
    body = defs[struct.__name__]
    return body["properties"], set(body.get("required", [])), defs


@pytest.mark.parametrize(("service", "inputs", "tag", "view"), CONSUMED, ids=IDS)
def test_everything_a_service_reacts_to_is_published_on_its_topics(
    service: str, inputs: list[str], tag: str, view: type[msgspec.Struct]
) -> None:
    sources = [PUBLISHED[(topic, tag)] for topic in inputs if (topic, tag) in PUBLISHED]
    assert sources, f"{service} reacts to {tag} on {inputs}, which nobody publishes there"
    assert type_tag(view) == tag, f"{service} routes {tag} to a view named {type_tag(view)}"


@pytest.mark.parametrize(("service", "inputs", "tag", "view"), CONSUMED, ids=IDS)
def test_a_consumers_view_fits_what_the_publisher_sends(
    service: str, inputs: list[str], tag: str, view: type[msgspec.Struct]
) -> None:
    publisher, sent = next(PUBLISHED[(t, tag)] for t in inputs if (t, tag) in PUBLISHED)
    view_props, view_required, view_defs = fields(view)
    sent_props, sent_required, sent_defs = fields(sent)
    for name, schema in view_props.items():
        if name not in sent_props:
            assert name not in view_required, f"{service} needs {tag}.{name}, which {publisher} never sends"
            continue
        admits, sends = json_types(schema, view_defs), json_types(sent_props[name], sent_defs)
        if "any" in admits:
            continue
        widened = admits | ({"integer"} if "number" in admits else set())
        assert sends <= widened, f"{service} reads {tag}.{name} as {admits}; {publisher} sends {sends}"
        if name in view_required and name not in sent_required:
            assert "null" not in sends, f"{publisher} may leave out {tag}.{name}, which {service} requires"


class Gossip(msgspec.Struct, frozen=True):
    note: str


def test_a_publication_that_was_not_declared_is_refused() -> None:
    routing = next(r for r in SERVICES if r.service == "routing")
    with pytest.raises(UndeclaredPublication, match=r"Gossip.v1 on routing.events"):
        routing.publications.check(SETTINGS.topic("routing.events"), Gossip("a step nobody opened"))


def test_the_asyncapi_document_names_every_topic_and_message() -> None:
    doc = document(SETTINGS)
    assert doc["asyncapi"] == "3.0.0"
    assert doc["channels"]["intake.events"]["address"] == "hall.intake.events"
    assert "CaseAccepted.v1" in doc["channels"]["intake.events"]["messages"]
    assert doc["components"]["messages"]["StepOpened.v1"]["payload"] == {"$ref": "#/components/schemas/StepOpened"}
    assert "Envelope" in doc["components"]["schemas"]
    receive = doc["operations"]["timing.receive.routing.events"]
    assert {"$ref": "#/channels/routing.events/messages/CaseCompleted.v1"} in receive["messages"]
    # Every reference in the document resolves.
    text = msgspec.json.encode(doc).decode()
    for ref in {part.split('"')[0] for part in text.split('"$ref":"')[1:]}:
        node: Any = doc
        for step in ref.removeprefix("#/").split("/"):
            node = node[step]
        assert node is not None
