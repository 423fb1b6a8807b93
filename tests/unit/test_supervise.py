"""deploy/supervise.py restarts a process that exits with 75 (its Redis wiped: it rebuilds at start), and only
then: any other exit code, a crash or a kill -9 ends the supervisor too, with the child's status."""

from __future__ import annotations

import subprocess
import sys
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
