"""The watchdog names the coroutine a hung test waits in."""

from __future__ import annotations

import asyncio

import pytest

from tests.watchdog import dump_stacks


async def parked_forever(event: asyncio.Event) -> None:
    await event.wait()


async def test_the_dump_names_each_pending_task_and_where_it_waits(capfd: pytest.CaptureFixture[str]) -> None:
    event = asyncio.Event()
    task = asyncio.create_task(parked_forever(event), name="the-parked-one")
    await asyncio.sleep(0)
    dump_stacks("a test that hangs")
    event.set()
    await task
    err = capfd.readouterr().err
    assert "watchdog: a test that hangs" in err
    assert "--- the-parked-one: <coroutine object parked_forever" in err
    assert "in parked_forever" in err  # the task's frame, with the line it waits on
