"""``./hall up --instances``: how many processes per service, their names and ports, and what ``status`` lists."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from deploy.cli import MAX_INSTANCES, instances, main
from deploy.processes import Launcher, instance, service_of


def test_a_count_applies_to_every_service_and_a_named_one_to_that_service() -> None:
    assert instances([]) == {"intake": 1, "routing": 1, "timing": 1, "evaluation": 1, "gateway": 1}
    assert set(instances(["2"]).values()) == {2}
    assert instances(["2", "routing=3,timing=1"]) == {
        "intake": 2,
        "routing": 3,
        "timing": 1,
        "evaluation": 2,
        "gateway": 2,
    }


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("router=2", "unknown service 'router'"),
        ("routing=0", "a count from 1"),
        ("routing=x", "a count from 1"),
        (str(MAX_INSTANCES + 1), "a count from 1"),
        ("counterpart=2", "unknown service 'counterpart'"),
    ],
)
def test_a_bad_count_is_refused_with_its_reason(value: str, reason: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=reason):
        instances([value])


def test_the_command_line_refuses_it_before_starting_anything(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        main(["--home", "/nonexistent", "up", "--instances", "routing=99"])
    assert ended.value.code == 2
    assert "a count from 1" in capsys.readouterr().err


def test_further_instances_have_their_own_name_and_port(tmp_path: Path) -> None:
    launcher = Launcher(tmp_path, ports={"routing": 8102, "gateway": 8000})
    assert [instance("routing", n) for n in (1, 2, 3)] == ["routing", "routing-2", "routing-3"]
    assert service_of("routing-3") == "routing"
    assert [launcher.port(name) for name in ("routing", "routing-2", "gateway-2")] == [8102, 9102, 9000]


def test_status_lists_the_live_instances_in_order(tmp_path: Path) -> None:
    launcher = Launcher(tmp_path, ports={"routing": 8102})
    for name in ("routing", "routing-10", "routing-2"):
        launcher.pid_file(name).write_text(str(os.getpid()))  # a live process
    launcher.pid_file("routing-3").write_text("999999999")  # a stale PID file
    assert launcher.running_instances("routing") == ["routing", "routing-2", "routing-10"]
    assert not launcher.pid_file("routing-3").exists()
