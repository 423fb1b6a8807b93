"""docker-compose.yml against what ``./hall up`` starts, without Docker: the file is read as YAML and compared
with ``deploy.processes.SERVICES`` (names and ports), ``shared.settings`` (the variables each process reads),
``deploy/kafka.sh`` (the broker's settings) and ``deploy/redis.sh`` (AOF), then validated against the Compose
Specification's JSON schema.

``compose_spec.json`` beside this file is ``schema/compose-spec.json`` of github.com/compose-spec/compose-spec
(Apache-2.0), commit 170098ba07d9f53c383a41bfd4c5166b0a4529a6 (the schema file last changed 2025-10-21), copied
unchanged. (The docker-compose 1.29.2 wheel on PyPI ships an older copy, ``compose/config/compose_spec.json`` of
2021, which lacks the top-level ``name``.)
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema  # type: ignore[import-untyped]  # no stubs: types-jsonschema is not a dev dependency
import pytest
import yaml

from deploy.processes import DEMO, ROOT
from deploy.processes import SERVICES as HALL_SERVICES
from shared.clock import OFFSET_VARIABLE
from shared.settings import _ENV as SETTINGS_ENV
from shared.settings import load_settings

COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = "deploy/Dockerfile"
SCHEMA_FILE = Path(__file__).with_name("compose_spec.json")
# The five services and the demo counterpart of 跨省通办: every process ``./hall up`` starts.
SERVICES = {**HALL_SERVICES, **DEMO}
HALL_IMAGE_USERS = [*SERVICES, "topics"]
# kafka.sh properties that name this machine's addresses and paths; the compose file has its own.
KAFKA_LOCAL_ONLY = {"listeners", "advertised.listeners", "controller.quorum.bootstrap.servers", "log.dirs"}

Compose = dict[str, Any]
Service = dict[str, Any]


@pytest.fixture(scope="module")
def compose() -> Compose:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


def _service(compose: Compose, name: str) -> Service:
    services = compose.get("services") or {}
    assert name in services, f"docker-compose.yml has no service {name!r}"
    service = services[name]
    assert isinstance(service, dict)
    return service


def _env(service: Service) -> dict[str, str]:
    """The service's environment, from either the mapping or the ``KEY=value`` list form."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {key: "" if value is None else str(value) for key, value in raw.items()}


def _command(service: Service) -> list[str]:
    raw = service.get("command") or []
    return shlex.split(raw) if isinstance(raw, str) else [str(part) for part in raw]


def _ports(service: Service) -> set[tuple[int, int]]:
    """(published, container) pairs from the short (``[ip:]published:target[/proto]``) and long port forms."""
    pairs: set[tuple[int, int]] = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            pairs.add((int(entry["published"]), int(entry["target"])))
            continue
        parts = str(entry).split("/")[0].rsplit(":", 2)
        assert len(parts) >= 2, f"port {entry!r} publishes no fixed host port"
        pairs.add((int(parts[-2]), int(parts[-1])))
    return pairs


def _depends_on(service: Service) -> dict[str, str]:
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in raw.items()}


def _named_volumes(service: Service) -> dict[str, str]:
    """Named volume -> mount point (bind mounts and anonymous volumes left out)."""
    mounts: dict[str, str] = {}
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            if entry.get("type") == "volume" and entry.get("source"):
                mounts[entry["source"]] = entry["target"]
            continue
        parts = str(entry).split(":")
        if len(parts) >= 2 and not parts[0].startswith(("/", ".", "~", "$")):
            mounts[parts[0]] = parts[1]
    return mounts


def _healthcheck_text(service: Service) -> str:
    check = service.get("healthcheck") or {}
    assert not check.get("disable"), "the healthcheck is disabled"
    test = check.get("test")
    assert test, "no healthcheck test"
    if isinstance(test, str):
        return test
    assert test[0] in {"CMD", "CMD-SHELL"}, f"healthcheck test starts with {test[0]!r}"
    return " ".join(str(part) for part in test[1:])


def _kafka_properties() -> dict[str, str]:
    """The broker properties deploy/kafka.sh writes into server.properties."""
    script = (ROOT / "deploy" / "kafka.sh").read_text(encoding="utf-8")
    match = re.search(r"<<EOF\n(.*?)\nEOF\n", script, re.DOTALL)
    assert match, "no server.properties heredoc in deploy/kafka.sh"
    props: dict[str, str] = {}
    for line in match.group(1).splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split("=", 1)
            props[key.strip()] = value.strip()
    return props


def _kafka_env_name(prop: str) -> str:
    """apache/kafka's variable for a property: '_' -> '__', '-' -> '___', '.' -> '_', upper-cased, KAFKA_ first."""
    return "KAFKA_" + prop.replace("_", "__").replace("-", "___").replace(".", "_").upper()


# --- the five services: as ./hall up runs them ---------------------------------------------------------------


def test_the_image_is_used_by_exactly_the_hall_processes(compose: Compose) -> None:
    built = {
        name
        for name, service in compose["services"].items()
        if isinstance(service.get("build"), dict) and service["build"].get("dockerfile") == DOCKERFILE
    }
    assert built == set(HALL_IMAGE_USERS)
    for name in built:
        assert compose["services"][name]["build"].get("context", ".") in {".", "./"}, name
    assert (ROOT / DOCKERFILE).is_file()


@pytest.mark.parametrize("name", list(SERVICES))
def test_service_publishes_its_port(compose: Compose, name: str) -> None:
    service = _service(compose, name)
    port = SERVICES[name]
    assert _ports(service) == {(port, port)}
    assert _env(service).get("HALL_HTTP_PORT") == str(port)


@pytest.mark.parametrize("name", list(SERVICES))
def test_service_runs_its_module(compose: Compose, name: str) -> None:
    command = _command(_service(compose, name))
    assert command == ["python", "-m", f"services.{name}"]
    assert (ROOT / "services" / name / "__main__.py").is_file()


@pytest.mark.parametrize("name", list(SERVICES))
def test_service_waits_for_kafka_redis_and_topics(compose: Compose, name: str) -> None:
    depends = _depends_on(_service(compose, name))
    assert depends.get("kafka") == "service_healthy"
    assert depends.get("redis") == "service_healthy"
    assert depends.get("topics") == "service_completed_successfully"


@pytest.mark.parametrize("name", list(SERVICES))
def test_service_healthcheck_reads_its_health_endpoint(compose: Compose, name: str) -> None:
    text = _healthcheck_text(_service(compose, name))
    assert re.search(rf"http://(127\.0\.0\.1|localhost):{SERVICES[name]}/health\b", text), text
    for other, port in SERVICES.items():
        if other != name:
            assert f":{port}/" not in text, f"{name}'s healthcheck hits {other}'s port"


@pytest.mark.parametrize("name", list(SERVICES))
def test_service_restarts_unless_stopped(compose: Compose, name: str) -> None:
    assert _service(compose, name).get("restart") == "unless-stopped"


@pytest.mark.parametrize("name", HALL_IMAGE_USERS)
def test_hall_settings_point_at_the_compose_services(compose: Compose, name: str) -> None:
    env = _env(_service(compose, name))
    read = {*SETTINGS_ENV.values(), OFFSET_VARIABLE}  # the clock's offset is read by shared/clock.py
    unknown = {key for key in env if key.startswith(("HALL_", "KAFKA_", "REDIS_", "OTEL_"))} - read
    assert not unknown, f"variables the hall does not read: {sorted(unknown)}"
    settings = load_settings(environ=env)
    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert settings.redis_url == "redis://redis:6379/0"
    otlp = urlsplit(settings.otlp_endpoint)
    assert (otlp.scheme, otlp.hostname, otlp.port) == ("http", "jaeger", 4318)
    if name in SERVICES:
        assert settings.http_host == "0.0.0.0"  # noqa: S104 (inside the container, behind its published port)
        assert settings.http_port == SERVICES[name]


def test_topics_is_a_one_shot_that_creates_the_topics(compose: Compose) -> None:
    topics = _service(compose, "topics")
    assert _command(topics)[-4:] == ["python", "-m", "deploy.cli", "topics"]
    assert _depends_on(topics).get("kafka") == "service_healthy"
    assert topics.get("restart", "no") in {"no", "on-failure"}
    assert not topics.get("ports")


def test_dockerfile_installs_the_locked_environment() -> None:
    dockerfile = (ROOT / DOCKERFILE).read_text(encoding="utf-8")
    hall_uv = re.search(r"^UV_VERSION=(\S+)$", (ROOT / "hall").read_text(encoding="utf-8"), re.MULTILINE)
    assert hall_uv, "no UV_VERSION in ./hall"
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.MULTILINE)
    assert f'"uv=={hall_uv.group(1)}"' in dockerfile or f"uv=={hall_uv.group(1)} " in dockerfile
    assert "uv sync --frozen --no-dev" in dockerfile
    for part in ("shared/", "services/", "deploy/", "data/"):
        assert re.search(rf"^COPY {part} ", dockerfile, re.MULTILINE), part
    users = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert users, "the image runs as root"
    assert users[-1] not in {"root", "0"}


# --- the infrastructure: deploy/kafka.sh and deploy/redis.sh as containers ------------------------------------


def test_kafka_is_a_single_kraft_node_of_kafka_4(compose: Compose) -> None:
    kafka = _service(compose, "kafka")
    assert re.fullmatch(r"apache/kafka:4\.\d+\.\d+", kafka["image"]), kafka["image"]
    env = _env(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env.get("CLUSTER_ID"), "KRaft storage is formatted with CLUSTER_ID"
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"].split(",")
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert not [key for key in env if "ZOOKEEPER" in key]
    assert not [name for name in compose["services"] if "zookeeper" in name]
    assert "kafka" in _healthcheck_text(kafka)


def test_kafka_data_lives_in_a_named_volume(compose: Compose) -> None:
    kafka = _service(compose, "kafka")
    mounted = set(_named_volumes(kafka).values())
    log_dirs = _env(kafka).get("KAFKA_LOG_DIRS", "").split(",")
    assert log_dirs != [""], "KAFKA_LOG_DIRS is not set"
    assert set(log_dirs) <= mounted, f"log dirs {log_dirs} not all on named volumes {mounted}"


def test_kafka_has_the_settings_of_kafka_sh(compose: Compose) -> None:
    env = _env(_service(compose, "kafka"))
    props = _kafka_properties()
    assert props.get("process.roles") == "broker,controller"
    expected = {_kafka_env_name(prop): value for prop, value in props.items() if prop not in KAFKA_LOCAL_ONLY}
    actual = {key: env.get(key) for key in expected}
    assert actual == expected


def test_redis_keeps_an_append_only_file_on_a_named_volume(compose: Compose) -> None:
    redis = _service(compose, "redis")
    assert re.fullmatch(r"redis:7(\.\d+)*(-\w+)?", redis["image"]), redis["image"]
    command = _command(redis)
    assert any(command[i : i + 2] == ["--appendonly", "yes"] for i in range(len(command))), command
    assert "/data" in _named_volumes(redis).values()
    assert "redis-cli" in _healthcheck_text(redis)


def test_jaeger_takes_otlp_and_shows_the_ui(compose: Compose) -> None:
    jaeger = _service(compose, "jaeger")
    assert re.fullmatch(r"jaegertracing/jaeger:2\.\d+\.\d+", jaeger["image"]), jaeger["image"]
    targets = {target for _, target in _ports(jaeger)}
    assert {16686, 4318} <= targets


def test_every_named_volume_is_declared(compose: Compose) -> None:
    declared = set(compose.get("volumes") or {})
    used = {volume for service in compose["services"].values() for volume in _named_volumes(service)}
    assert used, "no named volumes at all"
    assert used <= declared, f"undeclared volumes: {sorted(used - declared)}"
    assert {"kafka", "redis"} <= {name for name, service in compose["services"].items() if _named_volumes(service)}


# --- the Compose Specification ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec_validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema.get("title") == "Compose Specification"
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def test_compose_file_is_valid_against_the_specification(
    compose: Compose, spec_validator: jsonschema.Draft7Validator
) -> None:
    errors = [f"{error.json_path}: {error.message}" for error in spec_validator.iter_errors(compose)]
    assert not errors, "\n".join(errors)


def test_the_specification_rejects_a_broken_file(compose: Compose, spec_validator: jsonschema.Draft7Validator) -> None:
    """The schema is the real one: a misspelt key and a bad depends_on condition are errors."""
    broken = json.loads(json.dumps(compose))
    broken["services"]["redis"]["restrat"] = "always"
    broken["services"]["gateway"]["depends_on"]["kafka"]["condition"] = "service_ready"
    paths = {error.json_path for error in spec_validator.iter_errors(broken)}
    assert "$.services.redis" in paths
    assert any(path.startswith("$.services.gateway.depends_on") for path in paths), paths
