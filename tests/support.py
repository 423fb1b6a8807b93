"""Helpers for tests: retrying assertions for asynchronous results."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout_s: float = 20.0, every_s: float = 0.1) -> T:
    """Retries ``probe`` until it returns something other than None (asynchronous results)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = await probe()
        if result is not None:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no result within {timeout_s} s")
        await asyncio.sleep(every_s)
