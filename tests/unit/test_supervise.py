"""deploy/supervise.py restarts a process that exits with 75 (its Redis wiped: it rebuilds at start), and only
then: any other exit code, a crash or a kill -9 ends the supervisor too, with the child's status."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import os, signal, sys
from pathlib import Path
runs = Path(os.environ["RUNS"])
n = len(runs.read_text()) if runs.exists() else 0
runs.write_text("x" * (n + 1))
codes = os.environ["CODES"].split(",")
code = codes[min(n, len(codes) - 1)]
if code == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
sys.exit(int(code))
"""


def supervise(tmp_path: Path, codes: str) -> tuple[int, int]:
    """The supervisor's exit status and how many times it ran the child, whose exit codes are ``codes``."""
    (tmp_path / "h9child.py").write_text(CHILD)
    runs = tmp_path / "runs"
    env = {"PYTHONPATH": f"{tmp_path}:{ROOT}", "RUNS": str(runs), "CODES": codes, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from deploy.supervise import main; sys.exit(main('h9child'))"],
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    return done.returncode, len(runs.read_text())


def test_exit_75_is_restarted_until_the_child_ends_otherwise(tmp_path: Path) -> None:
    assert supervise(tmp_path, "75,75,0") == (0, 3)


def test_another_exit_code_ends_the_supervisor_with_it(tmp_path: Path) -> None:
    assert supervise(tmp_path, "3,0") == (3, 1)


def test_a_kill_9_is_a_crash_not_restarted(tmp_path: Path) -> None:
    assert supervise(tmp_path, "kill,0") == (128 + 9, 1)


SLEEPER = """
import os, time
from pathlib import Path
Path(os.environ["CHILD_PID"]).write_text(str(os.getpid()))
time.sleep(120)
"""


def test_a_kill_9_of_the_supervisor_alone_ends_its_child_too(tmp_path: Path) -> None:
    (tmp_path / "h9sleeper.py").write_text(SLEEPER)
    child_pid = tmp_path / "child.pid"
    env = {"PYTHONPATH": f"{tmp_path}:{ROOT}", "CHILD_PID": str(child_pid), "PATH": "/usr/bin:/bin"}
    supervisor = subprocess.Popen(
        [sys.executable, "-c", "import sys; from deploy.supervise import main; sys.exit(main('h9sleeper'))"],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while not child_pid.exists() or not child_pid.read_text():
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    pid = int(child_pid.read_text())
    assert _alive(pid)
    supervisor.kill()  # SIGKILL to the supervisor only, not its process group
    supervisor.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "the child outlived its supervisor"


def _alive(pid: int) -> bool:
    """Running, not a zombie (a zombie's parent is init here, which reaps it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
