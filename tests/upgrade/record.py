"""``python -m tests.upgrade.record [--commit REV]``: re-record the previous release's state for the upgrade test.

It checks ``REV`` (default: the commit named in ``recorded/meta.json``) out in a ``git worktree``, runs that
release's hall there (``tests/upgrade/drive.py``: one case left at each stage, as of a fixed working day) on the
real Kafka and Redis (``KAFKA_BOOTSTRAP_SERVERS``/``REDIS_URL``, else the test ones on 9092/6379) in a namespace of
its own, stops it, and writes every record of its topics, its consumer groups' offsets and its Redis keys to
``tests/upgrade/recorded/state.json.gz``, with the cases and the test secret that sealed their personal data in
``recorded/meta.json``. Then it removes the namespace and the worktree.

Re-record from the release before a change that alters a stored or published struct, so that
``tests/upgrade/test_previous_release.py`` proves the change reads what that release left behind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from shared.clock import OFFSET_VARIABLE, SystemClock
from shared.localtime import LOCAL
from shared.settings import load_settings
from tests.conftest import remove_namespace
from tests.upgrade.fixture import capture, write

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RECORDED = HERE / "recorded"
META, STATE = RECORDED / "meta.json", RECORDED / "state.json.gz"
# A Thursday, a working day of an official year: the recorded journeys happen as of its morning.
AS_OF = datetime(2026, 11, 26, 10, 0, tzinfo=LOCAL)
REAL = SystemClock(timedelta(0))  # the real time, only to work out the offset that makes "now" AS_OF


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout.strip()


async def record(commit: str) -> None:
    namespace = f"rec{uuid.uuid4().hex[:13]}"
    secret = secrets.token_urlsafe(48)
    settings = load_settings(namespace=namespace, secret=secret)
    full = _git("rev-parse", "--short", commit)
    with tempfile.TemporaryDirectory(prefix="hall-release-") as scratch:
        tree = Path(scratch) / "tree"
        _git("worktree", "add", "--detach", str(tree), full)
        try:
            (tree / "tests" / "upgrade").mkdir(parents=True, exist_ok=True)
            (tree / "tests" / "upgrade" / "drive.py").write_bytes((HERE / "drive.py").read_bytes())
            offset = AS_OF - REAL.now()
            env = {
                **os.environ,
                "PYTHONPATH": str(tree),
                "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
                "REDIS_URL": settings.redis_url,
                "HALL_SECRET": secret,
                "HALL_DEMO": "1",
                OFFSET_VARIABLE: str(offset.total_seconds()),
            }
            out = Path(scratch) / "cases.json"
            command = [sys.executable, "tests/upgrade/drive.py", namespace, str(out)]
            subprocess.run(command, cwd=tree, env=env, check=True)  # noqa: ASYNC221 (nothing else runs meanwhile)
            finished = REAL.now() + offset
            cases = json.loads(out.read_text(encoding="utf-8"))
        finally:
            _git("worktree", "remove", "--force", str(tree))
    try:
        state = await capture(settings)
    finally:
        await remove_namespace(settings)
    RECORDED.mkdir(exist_ok=True)
    write(state, STATE)
    meta = {
        "commit": full,
        "namespace": namespace,
        "secret": secret,  # a test secret made for this recording: it sealed the recorded personal data
        "as_of": AS_OF.isoformat(),
        "finished_at": finished.isoformat(),
        "cases": cases,
    }
    META.write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    records = sum(len(t.records) for t in state.topics.values())
    print(f"{STATE}: {records} records, {len(state.keys)} Redis keys, {STATE.stat().st_size} bytes, of {full}")  # noqa: T201


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.upgrade.record", description=__doc__)
    default = json.loads(META.read_text(encoding="utf-8"))["commit"] if META.exists() else "HEAD~1"
    parser.add_argument("--commit", default=default, help=f"the release to record (default {default})")
    args = parser.parse_args(argv)
    asyncio.run(record(args.commit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
