"""``python -m deploy.supervise services.<name>``: run one hall process and start it again when it asks to.

A service exits with 75 (EX_TEMPFAIL, :data:`shared.watch_built.EXIT_REBUILD`) when its Redis was wiped under
it: started again, it rebuilds from Kafka before consuming. Only that code restarts it. Any other end, a crash,
a kill -9 or a stop, ends the supervisor too with the child's status, so a crash stays visible (``./hall status``
shows it stopped). SIGTERM or SIGINT to the supervisor is passed to the child once, and nothing is restarted
after it. :class:`deploy.processes.Launcher` keeps the supervisor's PID in the PID file (it leads the process
group: kill -9 goes to the whole group, the child included). A kill -9 of the supervisor alone ends the child too:
the kernel sends it SIGTERM when its parent dies (``PR_SET_PDEATHSIG``), so it drains and exits instead of running
on unseen, with no PID file, beside the one the next ``./hall up`` starts.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from shared.watch_built import EXIT_REBUILD

RESTART_PAUSES_S = (0.5, 1.0, 2.0, 5.0, 10.0)  # after restarts in quick succession (within STABLE_S of each other)
STABLE_S = 60.0


def _log(message: str) -> None:
    sys.stderr.write(f"supervise: {message}\n")
    sys.stderr.flush()


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _ends_with(parent: int) -> None:
    """In the child, before it runs the module: SIGTERM when ``parent`` (the supervisor) dies, however it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        os.write(2, b"supervise: prctl(PR_SET_PDEATHSIG) failed: the process would outlive a killed supervisor\n")
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def main(module: str) -> int:
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    supervisor = os.getpid()

    def ends_with_me() -> None:
        _ends_with(supervisor)

    quick = 0
    while True:
        started = time.monotonic()
        child = subprocess.Popen([sys.executable, "-m", module], preexec_fn=ends_with_me)  # noqa: PLW1509
        while True:
            try:
                code = child.wait()
                break
            except InterruptedError:  # pragma: no cover (PEP 475 retries; kept for clarity)
                continue
        if code != EXIT_REBUILD or stopping:
            if code < 0:
                return 128 - code  # ended by a signal: the shell's convention
            return code
        quick = quick + 1 if time.monotonic() - started < STABLE_S else 0
        pause = RESTART_PAUSES_S[min(quick, len(RESTART_PAUSES_S) - 1)]
        _log(f"{module} exited with {EXIT_REBUILD} (Redis wiped: rebuild at start); starting it again in {pause:g} s")
        time.sleep(pause)
        if stopping:
            return 0


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].startswith("services."):
        sys.stderr.write("usage: python -m deploy.supervise services.<name>\n")
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
