"""deploy/prometheus/ against the code, without Prometheus, Grafana or Docker: the scrape configs name every
process's metrics port as deploy/processes.py and shared/metrics.py assign them, the dashboard asks only for
metrics the hall serves, and docker-compose's prometheus and grafana services mount files that exist."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from deploy.processes import INSTANCE_PORT_STEP, ROOT, SERVICES
from shared import metrics

HERE = ROOT / "deploy" / "prometheus"
HALL_SERVICES = [name for name in SERVICES if name != "gateway"]


def targets(path: str) -> dict[str, set[str]]:
    config = yaml.safe_load((HERE / path).read_text(encoding="utf-8"))
    found: dict[str, set[str]] = {}
    for job in config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics"
        for static in job["static_configs"]:
            found.setdefault(static["labels"]["process"], set()).update(static["targets"])
    return found


def test_the_local_config_scrapes_each_process_where_hall_up_serves_its_metrics() -> None:
    found = targets("prometheus.yml")
    assert set(found) == set(SERVICES)
    for name in HALL_SERVICES:  # on the health port, and a second instance's 1000 up
        assert found[name] == {f"127.0.0.1:{SERVICES[name]}", f"127.0.0.1:{SERVICES[name] + INSTANCE_PORT_STEP}"}
    gateway = SERVICES["gateway"] + metrics.METRICS_PORT_STEP  # never the public port
    assert found["gateway"] == {f"127.0.0.1:{gateway}", f"127.0.0.1:{gateway + INSTANCE_PORT_STEP}"}


def test_the_compose_config_scrapes_the_compose_services() -> None:
    found = targets("prometheus-compose.yml")
    expected = {name: {f"{name}:{port}"} for name, port in SERVICES.items() if name != "gateway"}
    expected["gateway"] = {f"gateway:{SERVICES['gateway'] + metrics.METRICS_PORT_STEP}"}
    assert found == expected


def served_names() -> set[str]:
    names = set()
    for collector in [*metrics.REGISTRY._collector_to_names]:
        for family in collector.collect():
            names.add(family.name)
            names.update(f"{family.name}{suffix}" for suffix in ("_total", "_bucket", "_count", "_sum"))
    return names


def test_the_dashboard_asks_only_for_metrics_the_hall_serves() -> None:
    dashboard: dict[str, Any] = json.loads((HERE / "grafana" / "dashboards" / "hall.json").read_text("utf-8"))
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    asked = {name for expr in exprs for name in re.findall(r"\bhall_\w+", expr)}
    served = served_names()
    assert asked, "the dashboard asks for nothing"
    assert asked <= served, f"not served: {sorted(asked - served)}"
    titles = " ".join(panel["title"] for panel in dashboard["panels"])
    for wanted in ("p99", "records/s", "dead letters", "lag"):
        assert wanted in titles


def test_compose_runs_prometheus_and_grafana_on_these_files() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"
        assert all(port.startswith("127.0.0.1:") for port in services[name]["ports"]), "published beyond loopback"
    mounted = {volume.split(":")[0] for volume in services["prometheus"]["volumes"]}
    assert "./deploy/prometheus/prometheus-compose.yml" in mounted
    assert services["gateway"]["environment"]["HALL_METRICS_HOST"] == "0.0.0.0"  # noqa: S104 (the compose network)
