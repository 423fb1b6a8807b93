"""How a record that fails for a transient reason is retried: backoff with jitter up to a cap, and a bound after
which it is reported to the operators, once, while it keeps being retried (a transient failure is never dropped).

:class:`Retries` keeps one entry per failing thing (for a consumer, a record's topic, partition and offset). Each
failure gives the delay before the next attempt (``first_s`` doubling up to ``cap_s``, each delay drawn in its
upper half by ``jitter``), whether this is the first failure (the only one logged with a traceback) and whether it
has now been failing for longer than ``alert_after_s`` (reported once). The clock and the random draw are
injected, so the policy is tested without waiting.

``HALL_RETRY_ALERT_S`` (600: ten minutes) sets the bound for the hall's consumers.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

ALERT_VARIABLE = "HALL_RETRY_ALERT_S"
DEFAULT_ALERT_S = 600.0


def alert_after_s(environ: dict[str, str] | None = None) -> float:
    """The bound from ``HALL_RETRY_ALERT_S`` (seconds, > 0), else ten minutes."""
    text = (os.environ if environ is None else environ).get(ALERT_VARIABLE) or ""
    if not text:
        return DEFAULT_ALERT_S
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{ALERT_VARIABLE} must be a number of seconds, not {text!r}") from None
    if value <= 0:
        raise ValueError(f"{ALERT_VARIABLE} must be more than 0 seconds, not {text!r}")
    return value


@dataclass(frozen=True)
class Backoff:
    """Delays ``first_s``, ``first_s × factor``, … up to ``cap_s``; ``jitter`` of each delay is drawn at random."""

    first_s: float = 0.1
    cap_s: float = 10.0
    factor: float = 2.0
    jitter: float = 0.5

    def delay(self, attempt: int, draw: float) -> float:
        """The pause after failed attempt number ``attempt`` (1, 2, …); ``draw`` is uniform in [0, 1)."""
        base = min(self.cap_s, self.first_s * self.factor ** max(0, attempt - 1))
        return base * (1.0 - self.jitter * draw)


@dataclass
class Attempts:
    """One failing thing: since when (monotonic), how many failures, and whether operators were told."""

    since: float
    failures: int = 0
    reported: bool = False


@dataclass(frozen=True)
class Failure:
    """What to do after one failure."""

    attempt: int
    delay_s: float
    failing_for_s: float
    first: bool  # log it with its traceback; later failures get one line
    report: bool  # failing longer than the bound: tell the operators now (once)


class Retries(Generic[K]):
    def __init__(
        self,
        backoff: Backoff | None = None,
        alert_after_s: float = DEFAULT_ALERT_S,
        *,
        clock: Callable[[], float] = time.monotonic,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.backoff = backoff or Backoff()
        self.alert_after_s = alert_after_s
        self._clock = clock
        self._draw = draw
        self._failing: dict[K, Attempts] = {}

    def failed(self, key: K) -> Failure:
        now = self._clock()
        state = self._failing.setdefault(key, Attempts(since=now))
        state.failures += 1
        failing_for = now - state.since
        report = not state.reported and failing_for >= self.alert_after_s
        if report:
            state.reported = True
        return Failure(
            attempt=state.failures,
            delay_s=self.backoff.delay(state.failures, self._draw()),
            failing_for_s=failing_for,
            first=state.failures == 1,
            report=report,
        )

    def unreport(self, key: K) -> None:
        """The report could not be delivered (e.g. Redis down too): report again at the next failure."""
        state = self._failing.get(key)
        if state is not None:
            state.reported = False

    def succeeded(self, key: K) -> Attempts | None:
        """It worked: forget it; returns how it had been failing (None if it had not)."""
        return self._failing.pop(key, None)

    def forget(self, stale: Callable[[K], bool]) -> None:
        """Forget every entry ``stale`` selects (e.g. records of a partition this consumer no longer owns)."""
        for key in [key for key in self._failing if stale(key)]:
            del self._failing[key]

    def failing(self) -> dict[K, Attempts]:
        return dict(self._failing)
