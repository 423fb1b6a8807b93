"""``./hall chaos --quick``: about 1,000 cases through every fault of the suite, every acknowledged write accounted.

It runs the command as ``./hall chaos`` does, in a sandbox of its own (a private Kafka and Redis on free ports:
the shared ones the rest of the suite uses are never touched), and checks both its exit status and the
accounting it writes: nothing lost, duplicated or stuck, every fault recovered within two minutes of its end.
Select it alone with ``-m chaos``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.chaos, pytest.mark.e2e, pytest.mark.timeout(1800)]


def test_quick_chaos_run_loses_duplicates_and_strands_nothing(tmp_path: Path) -> None:
    report, summary = tmp_path / "chaos.md", tmp_path / "chaos.json"
    done = subprocess.run(
        [sys.executable, "-m", "deploy.chaos", "--quick", "--report", str(report), "--json", str(summary)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=1700,
    )
    print(done.stdout[-20000:])  # noqa: T201 (the table, in the test's output on failure)
    assert summary.exists(), f"no accounting written (exit {done.returncode}): {done.stderr[-4000:]}"
    account = json.loads(summary.read_text())
    totals, rows = account["totals"], account["rows"]
    faults = [r for r in rows if r["phase"] not in ("warm-up", "after the faults")]
    assert len(faults) == 9, [r["phase"] for r in rows]
    # Every fault had traffic through it, and the run made about the cases asked for.
    assert all(r["submitted"] > 0 for r in faults), [(r["phase"], r["submitted"]) for r in faults]
    assert totals["submitted"] >= 800, totals
    assert totals["acknowledged"] >= 0.9 * totals["submitted"], totals
    assert totals["lost"] == 0, account["examples"]["lost"][:20]
    assert totals["duplicated"] == 0, account["examples"]["duplicated"][:20]
    assert totals["stuck"] == 0, account["examples"]["stuck"][:20]
    unrecovered = [(r["phase"], r["notes"]) for r in faults if r["recovery_s"] is None]
    assert not unrecovered, unrecovered
    assert done.returncode == 0, done.stderr[-4000:]
    assert "| total |" in report.read_text()
