"""The hall's wire contracts: every struct published to Kafka or stored in Redis, as a JSON snapshot.

Events (``services/*/messages.py``, the gateway's views in ``services/gateway/views/``, ``shared/envelope.py``
and everything a service declares it publishes or routes from Kafka) and stored records (every struct the code
decodes with ``msgspec.json``/``msgspec.msgpack``: Redis records, outbox markers, signed tokens) evolve
additively: a new field has a default; a breaking change is a new tag version with an upcaster in
:mod:`shared.upcast`. ``snapshot.json`` holds what the previous state of the code wrote;
``tests/unit/test_contracts.py`` compares the code with it, and ``python -m tests.contracts --update`` refreshes
it on purpose.

The structs are found, not listed: the modules under ``services/`` and ``shared/`` are imported and walked.
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import msgspec
import msgspec.inspect as mi

from deploy.asyncapi import runtimes
from shared.envelope import type_tag
from shared.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = Path(__file__).with_name("snapshot.json")
PACKAGES = ("shared", "services")
# Modules whose structs are all wire contracts: events published or views of consumed events.
EVENT_MODULES = re.compile(
    r"^services\.[a-z_]+(\.[a-z_]+)?\.(messages|events)$|^services\.gateway\.views\.[a-z_]+$|^shared\.envelope$"
)
# Decoding calls whose target type is a stored or published record (TOML files are configuration, not records).
WIRE_FORMATS = ("json", "msgpack")
HINT = "add a default, or a new tag version with an upcaster (shared/upcast.py)"

Contracts = dict[str, dict[str, Any]]


def name_of(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def modules() -> Iterator[str]:
    for package in PACKAGES:
        yield package
        for info in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            if not info.name.endswith("__main__"):
                yield info.name


def _structs_defined(module: Any) -> Iterator[type[msgspec.Struct]]:
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, msgspec.Struct) and value.__module__ == module.__name__:
            yield value


def _decoded_types(module: Any) -> Iterator[tuple[str, Any]]:
    """The types ``module`` decodes records into: ``msgspec.json.Decoder(T)`` and ``msgspec.json.decode(x, type=T)``."""
    path = getattr(module, "__file__", None)
    if path is None:
        return
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value
        fmt = owner.attr if isinstance(owner, ast.Attribute) else owner.id if isinstance(owner, ast.Name) else ""
        if fmt not in WIRE_FORMATS:
            continue
        target: ast.expr | None = None
        if node.func.attr == "Decoder" and node.args:
            target = node.args[0]
        elif node.func.attr == "decode":
            target = next((k.value for k in node.keywords if k.arg == "type"), None)
        if target is None:
            continue
        where = f"{module.__name__}:{node.lineno}"
        try:
            yield where, eval(ast.unparse(target), vars(module))  # noqa: S307 (our own source, a type expression)
        except NameError:
            # A type chosen at run time (a route's payload): those come from the handler tables below.
            continue


def _routed_and_published() -> Iterator[type[msgspec.Struct]]:
    for runtime in runtimes(load_settings({})):
        for payloads in runtime.publications.by_topic.values():
            yield from payloads
        for _, tables in runtime.subscriptions:
            for table in tables:
                for route in table.values():
                    yield route.payload


def roots() -> tuple[set[type[msgspec.Struct]], set[type[msgspec.Struct]], dict[str, Any]]:
    """(the structs in envelopes, every struct of the event modules, the types decoded from stored records)."""
    routed: set[type[msgspec.Struct]] = set(_routed_and_published())
    events: set[type[msgspec.Struct]] = set(routed)
    stored: dict[str, Any] = {}
    for name in modules():
        module = importlib.import_module(name)
        if EVENT_MODULES.match(name):
            events.update(_structs_defined(module))
        stored.update(_decoded_types(module))
    return routed, events, stored


# ---------------------------------------------------------------------------------------------- describing types


def _describe(t: mi.Type, found: dict[str, mi.StructType]) -> Any:  # noqa: PLR0911 (one return per kind)
    """A JSON-able canonical form of a type; structs are named and collected into ``found``."""
    if isinstance(t, mi.StructType):
        key = name_of(t.cls)
        found.setdefault(key, t)
        return {"struct": key}
    if isinstance(t, mi.UnionType):
        return {"union": sorted((_describe(m, found) for m in t.types), key=repr)}
    if isinstance(t, mi.LiteralType):
        return {"literal": sorted(t.values, key=repr)}
    if isinstance(t, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
        return {type(t).__name__.removesuffix("Type").lower(): _describe(t.item_type, found)}
    if isinstance(t, mi.TupleType):
        return {"tuple": [_describe(i, found) for i in t.item_types]}
    if isinstance(t, mi.DictType):
        return {"dict": [_describe(t.key_type, found), _describe(t.value_type, found)]}
    if isinstance(t, mi.Metadata):
        return _describe(t.type, found)
    if isinstance(t, mi.EnumType):
        return {"literal": sorted((m.value for m in t.cls), key=repr)}
    if isinstance(t, mi.CustomType):
        return {"custom": name_of(t.cls)}
    kind = type(t).__name__.removesuffix("Type").lower()
    limits = {k: v for k, v in msgspec.structs.asdict(t).items() if v is not None and k != "cls"}
    return {kind: limits} if limits else kind


def describe_struct(struct: mi.StructType, found: dict[str, mi.StructType], *, routed: bool) -> dict[str, Any]:
    """Its type tag (for what travels in an envelope), encoding options, and fields by their encoded names."""
    cls = struct.cls
    entry: dict[str, Any] = {"tag": type_tag(cls) if routed or isinstance(getattr(cls, "version", None), int) else None}
    if struct.array_like:
        entry["array_like"] = True
    if struct.tag is not None:
        entry["struct_tag"] = [struct.tag_field, struct.tag]
    if struct.forbid_unknown_fields:
        entry["forbid_unknown_fields"] = True
    entry["fields"] = {f.encode_name: {"type": _describe(f.type, found), "required": f.required} for f in struct.fields}
    return entry


def collect() -> Contracts:
    """Every event and stored struct, and every struct they contain, described."""
    routed, events, stored = roots()
    found: dict[str, mi.StructType] = {}
    top: dict[str, set[str]] = {}
    for cls in events:
        _describe(mi.type_info(cls), found)
        top.setdefault(name_of(cls), set()).add("event")
    for decoded in stored.values():
        shape = _describe(mi.type_info(decoded), found)
        for key in re.findall(r"'struct': '([^']+)'", repr(shape)):
            top.setdefault(key, set()).add("stored")
    contracts: Contracts = {}
    done: set[str] = set()
    while len(done) < len(found):
        for key in sorted(set(found) - done):
            done.add(key)
            contracts[key] = {
                "roles": sorted(top.get(key, {"part"})),
                **describe_struct(found[key], found, routed=found[key].cls in routed),
            }
    return dict(sorted(contracts.items()))


def load() -> Contracts:
    """The snapshot's structs."""
    result: Contracts = msgspec.json.decode(SNAPSHOT.read_bytes())["structs"]
    return result


def taken_from() -> str:
    """The commit whose code the snapshot describes."""
    return str(msgspec.json.decode(SNAPSHOT.read_bytes())["taken_from"])


def write(contracts: Contracts) -> str:
    """Write the snapshot of ``contracts`` (field order kept: array-encoded records depend on it)."""
    head = _git("rev-parse", "--short", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no", "--", *PACKAGES)
    source = f"{head or 'unknown'}{' + uncommitted changes' if dirty else ''}"
    SNAPSHOT.write_text(_layout(source, contracts), encoding="utf-8")
    return source


def _git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def _layout(source: str, contracts: Contracts) -> str:
    """JSON with one line per field, so a diff of the snapshot reads as the change it records."""

    def line(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    structs = []
    for key, entry in contracts.items():
        head = [f"   {line(k)}: {line(v)}" for k, v in entry.items() if k != "fields"]
        fields = ",\n".join(f"    {line(name)}: {line(field)}" for name, field in entry["fields"].items())
        body = ",\n".join([*head, f'   "fields": {{\n{fields}\n   }}' if fields else '   "fields": {}'])
        structs.append(f"  {line(key)}: {{\n{body}\n  }}")
    return f'{{\n "taken_from": {line(source)},\n "structs": {{\n' + ",\n".join(structs) + "\n }\n}\n"


# ---------------------------------------------------------------------------------------------- the rule


class Rule:
    """What ``now`` must read of what ``before`` wrote; ``upcasters`` are the (type name, from version) registered."""

    def __init__(self, before: Contracts, now: Contracts, upcasters: set[tuple[str, int]]) -> None:
        self.before, self.now, self.upcasters = before, now, upcasters
        self._comparing: set[tuple[str, str]] = set()

    def breaks(self) -> list[str]:
        problems: list[str] = []
        for key, old in self.before.items():
            new = self.now.get(key)
            if new is None:
                if "stored" in old["roles"] or old["tag"] is not None:
                    problems.append(
                        f"{key} is gone: records and events it described may still be in Redis and Kafka (if it only "
                        "moved or was renamed and its wire form is the same, refresh the snapshot on purpose)"
                    )
                continue  # a part of others: the fields that hold it are compared by shape
            if old["tag"] != new["tag"]:
                problem = self._retagged(key, old["tag"], new["tag"])
                if problem:
                    problems.append(problem)
                continue  # a new tag version: the upcasters carry old records over
            problems.extend(self.struct_breaks(key, old, new))
        return problems

    def struct_breaks(self, key: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
        problems: list[str] = []
        for option in ("array_like", "struct_tag", "forbid_unknown_fields"):
            if old.get(option) != new.get(option) and (option != "forbid_unknown_fields" or new.get(option)):
                problems.append(f"{key}: its encoding changed ({option} {old.get(option)} → {new.get(option)}): {HINT}")
        old_fields, new_fields = old["fields"], new["fields"]
        for name, field in old_fields.items():
            now = new_fields.get(name)
            if now is None:
                problems.append(f"{key}.{name} was removed: stored records and events still carry it: {HINT}")
            elif not self.accepts(field["type"], now["type"]):
                problems.append(
                    f"{key}.{name} changed type from {field['type']} to {now['type']}: "
                    f"old records no longer decode: {HINT}"
                )
            elif now["required"] and not field["required"]:
                problems.append(f"{key}.{name} became required: old records without it no longer decode: {HINT}")
        for name, field in new_fields.items():
            if name not in old_fields and field["required"]:
                problems.append(f"{key}.{name} is a new required field: old records lack it: {HINT}")
        if old.get("array_like") and list(new_fields)[: len(old_fields)] != list(old_fields):
            problems.append(f"{key} is encoded as an array: new fields go at the end, in order: {HINT}")
        return problems

    def accepts(self, old: Any, new: Any) -> bool:  # noqa: PLR0911 (one return per kind of type)
        """Whether every value of type ``old`` (as described) still decodes as type ``new``."""
        if new in (old, "any"):
            return True
        if isinstance(old, dict) and "union" in old:
            return all(self.accepts(member, new) for member in old["union"])
        if isinstance(new, dict) and "union" in new:
            return any(self.accepts(old, member) for member in new["union"])
        if isinstance(old, dict) and isinstance(new, dict):
            (ok, ov), (nk, nv) = next(iter(old.items())), next(iter(new.items()))
            if ok == nk == "struct":
                return self._same_shape(ov, nv)
            if ok == nk == "literal":
                return set(map(repr, ov)) <= set(map(repr, nv))
            if ok == nk and ok in ("list", "set", "frozenset", "vartuple"):
                return self.accepts(ov, nv)
            if ok == nk == "dict":
                return self.accepts(ov[0], nv[0]) and self.accepts(ov[1], nv[1])
            if ok == nk == "tuple":
                return len(ov) == len(nv) and all(self.accepts(a, b) for a, b in zip(ov, nv, strict=True))
        if isinstance(old, dict) and "literal" in old and isinstance(new, str):
            kinds: dict[str, Any] = {"str": str, "int": int, "float": (int, float)}
            return new in kinds and all(isinstance(v, kinds[new]) for v in old["literal"])
        if old == "int" and new == "float":
            return True
        return isinstance(old, dict) and isinstance(new, str) and next(iter(old)) == new  # a bound was lifted

    def _same_shape(self, old_key: str, new_key: str) -> bool:
        """A field now holds another struct (renamed, moved): it must read what the old one wrote."""
        old, new = self.before.get(old_key), self.now.get(new_key)
        if old is None or new is None:
            return False
        if (old_key, new_key) in self._comparing:
            return True  # a recursive type: assume the inner level holds, as the outer one is being checked
        self._comparing.add((old_key, new_key))
        try:
            return not self.struct_breaks(new_key, old, new)
        finally:
            self._comparing.discard((old_key, new_key))

    def _retagged(self, key: str, old: str | None, new: str | None) -> str:
        if old is None or new is None:
            return f"{key}: its type tag changed from {old} to {new}: {HINT}"
        (old_name, old_v), (new_name, new_v) = (tag.rsplit(".v", 1) for tag in (old, new))
        if old_name != new_name or int(new_v) < int(old_v):
            return f"{key}: its type tag changed from {old} to {new}: records tagged {old} would no longer be routed"
        steps = range(int(old_v), int(new_v))
        missing = [f"{old_name}.v{v}→v{v + 1}" for v in steps if (old_name, v) not in self.upcasters]
        return f"{key}: {old} became {new} without an upcaster for {', '.join(missing)}: {HINT}" if missing else ""


def breaks(before: Contracts, now: Contracts, upcasters: set[tuple[str, int]]) -> list[str]:
    """Every way ``now`` cannot read what ``before`` wrote (empty when the change is additive)."""
    return Rule(before, now, upcasters).breaks()


# ---------------------------------------------------------------------------------------------- old records


SAMPLES: dict[str, Any] = {
    "str": "x",
    "int": 1,
    "float": 1.5,
    "bool": True,
    "datetime": "2026-11-26T02:00:00Z",
    "date": "2026-11-26",
    "time": "10:00:00",
    "timedelta": "PT1H",
    "bytes": "eA==",
    "raw": {},
    "any": "x",
    "none": None,
}


def sample(contracts: Contracts, described: Any, *, whole: bool) -> Any:  # noqa: PLR0911 (one per kind)
    """A JSON value of a described type, as the snapshot's code wrote it (``whole``: with every optional field)."""
    if isinstance(described, str):
        return SAMPLES[described]
    kind, arg = next(iter(described.items()))
    if kind == "struct":
        return old_record(contracts, arg, whole=whole)
    if kind == "literal":
        return arg[0]
    if kind == "union":
        return sample(contracts, next((m for m in arg if m != "none"), "none"), whole=whole)
    if kind in ("list", "set", "frozenset", "vartuple"):
        return [sample(contracts, arg, whole=whole)]
    if kind == "tuple":
        return [sample(contracts, item, whole=whole) for item in arg]
    if kind == "dict":
        return {str(sample(contracts, arg[0], whole=whole)): sample(contracts, arg[1], whole=whole)}
    if kind in ("float", "int"):
        return 1.5 if kind == "float" else 1  # a bound (gt 0 and the like) the samples keep
    if kind == "str":
        return "x" * max(1, arg.get("min_length", 1))
    raise ValueError(f"no sample of {described}")


def old_record(contracts: Contracts, key: str, *, whole: bool) -> Any:
    """A record of struct ``key`` as the snapshot's code wrote it: its required fields (``whole``: all of them)."""
    entry = contracts[key]
    every = whole or bool(entry.get("array_like"))  # an array holds every field, by position
    fields = {
        name: sample(contracts, field["type"], whole=whole)
        for name, field in entry["fields"].items()
        if every or field["required"]
    }
    if entry.get("struct_tag"):
        tag_field, tag = entry["struct_tag"]
        fields[tag_field] = tag
    return list(fields.values()) if entry.get("array_like") else fields


def struct_class(key: str) -> type[msgspec.Struct]:
    module, qualname = key.split(":")
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return cast("type[msgspec.Struct]", found)
