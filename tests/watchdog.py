"""Where a hung test waits: shortly before pytest-timeout ends a test, every pending asyncio task's stack is
printed to stderr (pytest shows it under the failure), so a hang seen once in CI says where it hung."""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import sys
import threading
from collections.abc import Iterator

import pytest

AHEAD_S = 15.0  # how long before the timeout the stacks are printed


def _pending_tasks() -> list[asyncio.Task[object]]:
    for _ in range(5):  # the set may change under us (it belongs to the loop's thread): try again
        try:
            return [task for task in list(asyncio.tasks._all_tasks) if not task.done()]  # type: ignore[attr-defined]
        except RuntimeError:
            continue
    return []


def dump_stacks(why: str) -> None:
    out = sys.stderr
    print(f"\n===== watchdog: {why}; pending asyncio tasks and threads follow =====", file=out)
    for task in _pending_tasks():
        with contextlib.suppress(Exception):  # a task finishing while we print
            print(f"--- {task.get_name()}: {task.get_coro()!r}", file=out)
            task.print_stack(limit=12, file=out)
    faulthandler.dump_traceback(file=out, all_threads=True)
    out.flush()


def timeout_of(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    return float(item.config.getini("timeout") or 0)


@contextlib.contextmanager
def watching(item: pytest.Item) -> Iterator[None]:
    limit = timeout_of(item)
    if limit <= AHEAD_S:
        yield
        return
    why = f"{item.nodeid} still running after {limit - AHEAD_S:.0f} s"
    timer = threading.Timer(limit - AHEAD_S, dump_stacks, args=(why,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
