"""Wire contracts.

Services never import each other's messages: these tests keep every consumer's view true to its publisher.
Upgrades keep data: every published or stored struct evolves additively against ``tests/contracts/snapshot.json``,
and an event written under an older tag version reads as the newest through its upcasters (``shared/upcast.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any, ClassVar

import msgspec
import pytest

from deploy.asyncapi import document, publishers, runtimes
from services.gateway.steps.workbench import WorkStep
from shared.contracts import UndeclaredPublication
from shared.envelope import SYSTEM, Actor, Envelope, decode, encode, type_tag, wrap
from shared.kafka import ServiceRuntime
from shared.settings import load_settings
from shared.upcast import UPCASTERS
from tests import contracts

SETTINGS = load_settings({})
SERVICES = runtimes(SETTINGS)
PUBLISHED = publishers(SERVICES)
CONTRACTS = contracts.collect()
envelope_decoder = msgspec.json.Decoder(Envelope)  # the envelope as stored, without the upcasters


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


# ---------------------------------------------------------------- upgrades keep data: the additive rule


def test_the_wire_contracts_only_grow_since_the_snapshot() -> None:
    """Every published or stored struct still reads what the snapshot's code wrote (tests/contracts/snapshot.json)."""
    problems = contracts.breaks(contracts.load(), CONTRACTS, set(UPCASTERS))
    assert not problems, "\n".join(
        [*problems, "(a change made on purpose, with its upcaster: python -m tests.contracts --update)"]
    )


def test_the_structs_are_found_by_walking_the_modules() -> None:
    roles = {key: entry["roles"] for key, entry in CONTRACTS.items()}
    # Stored records of every service and the gateway's read models, found through their decoders.
    for stored in (
        "services.gateway.steps.workbench:WorkStep",
        "services.gateway.desk.dossier:Dossier",
        "services.gateway.cases.timeline:TimelineEntry",
        "services.gateway.sla.board:Entry",
        "services.routing.model:RoutedCase",
        "services.timing.clocks:ClockState",
        "services.evaluation.ratings:CaseFile",
        "services.intake.handlers:CaseRecord",
        "shared.outbox:Outgoing",
    ):
        assert "stored" in roles[stored], stored
    # Events: every published payload and every consumer's view, with their tags; parts of both.
    assert CONTRACTS["services.routing.messages:StepOpened"]["tag"] == "StepOpened.v1"
    assert CONTRACTS["services.gateway.views.routing:StepOpened"]["tag"] == "StepOpened.v1"
    assert CONTRACTS["services.routing.model:Step"]["roles"] == ["part"]
    assert CONTRACTS["services.timing.clocks:ClockState"]["array_like"] is True
    assert CONTRACTS["shared.envelope:Envelope"]["fields"]["causation_id"] == {"type": "str", "required": False}
    # Configuration read from TOML is not a wire contract.
    assert not any(key.startswith("services.gateway.users:") for key in CONTRACTS)


def _changed(key: str, change: Any) -> list[str]:
    now = copy.deepcopy(CONTRACTS)
    change(now[key])
    return contracts.breaks(CONTRACTS, now, set(UPCASTERS))


STEP = "services.gateway.steps.workbench:WorkStep"


def test_a_removed_field_is_refused() -> None:
    problems = _changed(STEP, lambda s: s["fields"].pop("item_name"))
    assert problems == [f"{STEP}.item_name was removed: stored records and events still carry it: {contracts.HINT}"]


def test_a_changed_type_is_refused_and_a_widened_one_is_not() -> None:
    problems = _changed(STEP, lambda s: s["fields"]["seq"].update(type="str"))
    assert len(problems) == 1
    assert "WorkStep.seq changed type from int to str" in problems[0]
    assert "add a default, or a new tag version with an upcaster" in problems[0]
    # What old records hold still decodes: int → float, str → str | None, a Literal that gains a value.
    assert _changed(STEP, lambda s: s["fields"]["seq"].update(type="float")) == []
    assert _changed(STEP, lambda s: s["fields"]["status"].update(type={"union": ["null", "str"]})) == []
    decide = "services.routing.messages:DecideStep"
    action = CONTRACTS[decide]["fields"]["action"]["type"]
    assert set(action["literal"]) == {"通过", "退回", "不予许可"}
    assert _changed(decide, lambda s: s["fields"]["action"]["type"].update(literal=[*action["literal"], "转办"])) == []
    assert _changed(decide, lambda s: s["fields"]["action"].update(type="str")) == []
    narrowed = _changed(decide, lambda s: s["fields"]["action"]["type"].update(literal=["通过"]))
    assert "DecideStep.action changed type" in narrowed[0]


def test_a_new_required_field_is_refused_and_one_with_a_default_is_not() -> None:
    problems = _changed(STEP, lambda s: s["fields"].update(window={"type": "str", "required": True}))
    assert problems == [f"{STEP}.window is a new required field: old records lack it: {contracts.HINT}"]
    assert _changed(STEP, lambda s: s["fields"].update(window={"type": "str", "required": False})) == []
    became = _changed(STEP, lambda s: s["fields"]["point"].update(required=True))
    assert became == [f"{STEP}.point became required: old records without it no longer decode: {contracts.HINT}"]


def test_an_array_encoded_record_only_grows_at_its_end() -> None:
    clock = "services.timing.clocks:ClockState"

    def insert_first(entry: dict[str, Any]) -> None:
        entry["fields"] = {"window": {"type": "str", "required": False}, **entry["fields"]}

    assert "new fields go at the end" in _changed(clock, insert_first)[0]
    assert _changed(clock, lambda s: s["fields"].update(window={"type": "str", "required": False})) == []


def test_a_new_tag_version_needs_its_upcasters() -> None:
    key = "services.routing.messages:StepOpened"

    def v3(entry: dict[str, Any]) -> None:
        entry["tag"] = "StepOpened.v3"
        entry["fields"]["seq"]["type"] = "str"  # a breaking change: that is what the upcasters are for

    problems = _changed(key, v3)
    assert problems == [
        f"{key}: StepOpened.v1 became StepOpened.v3 without an upcaster for StepOpened.v1→v2, StepOpened.v2→v3: "
        f"{contracts.HINT}"
    ]
    now = copy.deepcopy(CONTRACTS)
    v3(now[key])
    assert contracts.breaks(CONTRACTS, now, {("StepOpened", 1), ("StepOpened", 2)}) == []


def test_a_field_holding_a_renamed_struct_of_the_same_shape_still_reads() -> None:
    now = copy.deepcopy(CONTRACTS)
    limit = now.pop("services.gateway.views.intake:Limit")
    now["services.gateway.views.intake:StepLimit"] = limit
    opened = now["services.gateway.views.routing:StepOpened"]["fields"]["limit"]
    opened["type"] = {"union": ["none", {"struct": "services.gateway.views.intake:StepLimit"}]}
    assert contracts.breaks(CONTRACTS, now, set()) == []
    limit["fields"]["value"]["type"] = "str"
    assert "StepOpened.limit changed type" in contracts.breaks(CONTRACTS, now, set())[0]


# ---------------------------------------------------------------- upcasters: an old event reads as the new version


class Receipt(msgspec.Struct, frozen=True, kw_only=True):
    """Version 2 splits v1's ``when`` ("2026-11-26 09:30") into a date and a time, both required."""

    version: ClassVar[int] = 2
    case_no: str
    on: str
    at: str


class Receipt3(msgspec.Struct, frozen=True, kw_only=True):
    """Version 3 of ``Receipt`` (a class of its own here, beside version 2), with a window."""

    version: ClassVar[int] = 3
    case_no: str
    on: str
    at: str
    window: str


@pytest.fixture
def receipt_upcasters() -> Iterator[None]:
    @UPCASTERS.register("Receipt", 1)
    def _v1(payload: dict[str, Any]) -> dict[str, Any]:
        on, at = payload.pop("when").split(" ")
        return {**payload, "on": on, "at": at}

    yield
    UPCASTERS.unregister("Receipt", 1)
    UPCASTERS.unregister("Receipt", 2)


def _v1_record(payload: dict[str, Any]) -> bytes:
    """A record as the previous release wrote it: ``Receipt.v1``."""
    actor = Actor(kind="clerk", id="c001", name="王窗口")
    old = wrap(Receipt(case_no="X", on="", at=""), case_id="15052520261126000051", actor=actor)
    return encode(msgspec.structs.replace(old, type="Receipt.v1", payload=msgspec.Raw(msgspec.json.encode(payload))))


@pytest.mark.usefixtures("receipt_upcasters")
def test_an_old_v1_record_decodes_into_v2() -> None:
    data = _v1_record({"case_no": "15052520261126000051", "when": "2026-11-26 09:30"})
    with pytest.raises(msgspec.ValidationError, match="missing required field `on`"):
        msgspec.json.decode(envelope_decoder.decode(data).payload, type=Receipt)  # without the upcaster
    env = decode(data)
    assert env.type == "Receipt.v2" == type_tag(Receipt)
    assert msgspec.json.decode(env.payload, type=Receipt) == Receipt(
        case_no="15052520261126000051", on="2026-11-26", at="09:30"
    )
    assert UPCASTERS.latest("Receipt.v1") == "Receipt.v2"


@pytest.mark.usefixtures("receipt_upcasters")
def test_upcasters_chain_and_leave_current_and_untagged_records_alone() -> None:
    @UPCASTERS.register("Receipt", 2)
    def _v2(payload: dict[str, Any]) -> dict[str, Any]:
        return {**payload, "window": payload.get("window", "1号窗口")}

    env = decode(_v1_record({"case_no": "N1", "when": "2026-11-26 09:30"}))
    assert env.type == "Receipt.v3"
    assert msgspec.json.decode(env.payload, type=Receipt3).window == "1号窗口"
    current = encode(wrap(Receipt3(case_no="N2", on="d", at="t", window="w"), case_id="N2", actor=SYSTEM))
    assert decode(current).payload == envelope_decoder.decode(current).payload
    assert UPCASTERS.apply("Receipt", b"{}") == ("Receipt", b"{}")  # no version: nothing to do
    with pytest.raises(ValueError, match="already has an upcaster"):
        UPCASTERS.register("Receipt", 2)(_v2)


def stale_routes() -> list[str]:
    return [
        f"{service} routes {tag}, read as {UPCASTERS.latest(tag)}"
        for service, _, tag, _ in CONSUMED
        if UPCASTERS.latest(tag) != tag
    ]


def test_handlers_route_the_newest_tag_version() -> None:
    """Decoding upcasts an older tag to the newest: a route for a tag with an upcaster would never be reached."""
    assert stale_routes() == []
    UPCASTERS.register("StepOpened", 1)(lambda payload: payload)
    try:
        assert "gateway routes StepOpened.v1, read as StepOpened.v2" in stale_routes()
    finally:
        UPCASTERS.unregister("StepOpened", 1)


@pytest.mark.usefixtures("receipt_upcasters")
def test_a_record_its_upcaster_cannot_read_is_malformed_not_a_crash() -> None:
    """The consume path sends a msgspec error to the dead letters; anything else would be retried for ever."""
    with pytest.raises(msgspec.ValidationError, match=r"Receipt.v1 无法升级 \(upcast failed\)"):
        decode(_v1_record({"case_no": "N1"}))


# ---------------------------------------------------------------- read models migrate what older versions stored


def test_the_inbox_reads_a_step_stored_before_item_case_no() -> None:
    """2026-11-26: the department inbox answered 500 'missing required field item_case_no' after an upgrade."""
    stored = {
        "step_id": "S1",
        "case_id": "15052520261126000051",
        "case_no": "15052520261126000051",
        "item_name": "查封登记",
        "step_name": "承办",
        "seq": 1,
        "stage": 1,
        "department": "自然资源局",
        "opened_at": "2026-11-26T01:30:00Z",
    }
    step = msgspec.json.decode(msgspec.json.encode(stored), type=WorkStep)
    assert step.item_case_no == step.case_no == "15052520261126000051"  # not a bundle child: the case's own
    child = msgspec.json.decode(msgspec.json.encode({**stored, "item_case_no": "C2"}), type=WorkStep)
    assert child.item_case_no == "C2"


SNAPSHOT = contracts.load()
KEPT = [k for k, e in SNAPSHOT.items() if k in CONTRACTS and CONTRACTS[k]["tag"] == e["tag"]]


@pytest.mark.parametrize("whole", [False, True], ids=["required-fields-only", "every-field"])
def test_records_as_the_snapshot_release_wrote_them_decode_now(whole: bool) -> None:
    """Each struct decodes a record built from the snapshot's description (msgspec itself, __post_init__ included)."""
    failed = []
    for key in KEPT:
        record = msgspec.json.encode(contracts.old_record(SNAPSHOT, key, whole=whole))
        try:
            msgspec.json.decode(record, type=contracts.struct_class(key))
        except (msgspec.ValidationError, ValueError, TypeError) as exc:
            failed.append(f"{key}: {exc}: {contracts.HINT}")
    assert len(KEPT) > 200
    assert not failed, "\n".join(failed)


def test_old_records_are_built_from_the_snapshot_and_a_stricter_struct_fails_on_them() -> None:
    """A step as stored before item_case_no existed: WorkStep reads it; a struct requiring the field would not."""
    before = copy.deepcopy(SNAPSHOT)
    del before[STEP]["fields"]["item_case_no"]
    record = contracts.old_record(before, STEP, whole=False)
    assert "item_case_no" not in record
    assert "point" not in record  # optional: a minimal old record leaves it out
    assert msgspec.json.decode(msgspec.json.encode(record), type=WorkStep).item_case_no == record["case_no"]

    class Stricter(msgspec.Struct, kw_only=True):
        step_id: str
        item_case_no: str

    with pytest.raises(msgspec.ValidationError, match="missing required field `item_case_no`"):
        msgspec.json.decode(msgspec.json.encode(record), type=Stricter)
