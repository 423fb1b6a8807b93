"""CPU seconds per lifecycle for each process of the hall, read from ``/proc`` before and after a measured interval.

A process's CPU is ``utime + stime`` of ``/proc/<pid>/stat`` (every thread of it), summed over the process and every
live descendant: a service's PID file holds its supervisor (``deploy/supervise.py``), whose child is the service.
Kafka and Redis are read from their PID files under the hall's home (``deploy/kafka.sh``, ``deploy/redis.sh``);
they serve every client of the machine's broker and Redis, so whatever else uses them meanwhile counts too. The
bench's own process (the HTTP client, and the bare pipeline's relays) is a row of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from deploy.processes import SERVICES, Launcher

TICKS_PER_S = os.sysconf("SC_CLK_TCK")
BENCH = "bench client"


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent PID, CPU seconds) of a live process, or None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may hold spaces and parentheses: the fields after it follow the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def _children() -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                found.setdefault(stat[0], []).append(int(entry.name))
    return found


def tree_cpu(pid: int, children: Mapping[int, list[int]] | None = None) -> float:
    """CPU seconds of ``pid`` and its live descendants."""
    kids = _children() if children is None else children
    total, todo, seen = 0.0, [pid], set[int]()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        stat = _stat(current)
        if stat is not None:
            total += stat[1]
            todo += kids.get(current, [])
    return total


@dataclass(frozen=True)
class Processes:
    """The processes to measure, by name: the hall's service instances, Kafka, Redis and the bench itself."""

    pids: dict[str, int]

    @classmethod
    def of_hall(cls, launcher: Launcher, infra_home: Path | None = None, *, bench: bool = True) -> Processes:
        pids: dict[str, int] = {}
        for service in SERVICES:
            for name in launcher.running_instances(service):
                pid = launcher.pid(name)
                if pid is not None:
                    pids[name] = pid
        for name in ("kafka", "redis"):
            pid = _pid_file((infra_home or launcher.home) / "run" / f"{name}.pid")
            if pid is not None:
                pids[name] = pid
        if bench:
            pids[BENCH] = os.getpid()
        return cls(pids)

    def only(self, names: Iterable[str]) -> Processes:
        wanted = set(names)
        return Processes({n: p for n, p in self.pids.items() if n in wanted})

    def snapshot(self) -> dict[str, float]:
        children = _children()
        return {name: tree_cpu(pid, children) for name, pid in self.pids.items()}


def _pid_file(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _stat(pid) is not None else None


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds each process spent over ``wall_s`` seconds, for ``units`` lifecycles (or messages)."""

    seconds: dict[str, float]
    wall_s: float
    units: int

    @classmethod
    def between(cls, before: Mapping[str, float], after: Mapping[str, float], wall_s: float, units: int) -> CpuUse:
        return cls({n: max(0.0, after[n] - before[n]) for n in before if n in after}, wall_s, units)

    def per_unit_ms(self, name: str) -> float:
        return self.seconds[name] * 1000 / self.units if self.units else float("nan")

    @property
    def total_s(self) -> float:
        return sum(self.seconds.values())

    def hall_s(self) -> float:
        """Every process but the bench's own."""
        return sum(s for n, s in self.seconds.items() if n != BENCH)

    def table(self, unit: str = "lifecycle") -> list[str]:
        """Rows: process, CPU seconds, share of a core over the interval, ms of CPU per ``unit``."""
        lines = [f"  {'process':<14} {'cpu s':>8} {'cores':>6} {'ms / ' + unit:>16}"]
        for name, seconds in self.seconds.items():
            cores = seconds / self.wall_s if self.wall_s else 0.0
            lines.append(f"  {name:<14} {seconds:8.2f} {cores:6.2f} {self.per_unit_ms(name):16.1f}")
        hall = self.hall_s()
        per = hall * 1000 / self.units if self.units else float("nan")
        cores = hall / self.wall_s if self.wall_s else 0.0
        lines.append(f"  {'all but bench':<14} {hall:8.2f} {cores:6.2f} {per:16.1f}")
        return lines
