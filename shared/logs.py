"""Every process's log: one file per service that rotates by size (10 MB × 5 kept), or stderr.

``./hall up`` starts each service with its output going to ``.hall/logs/<service>.log`` and ``HALL_LOG_FILE``
naming that file. The process then writes its log records through a rotating handler to the same file; at each
rotation its standard output and error are pointed at the new file too, so a crash's last words land there and
the old file stops growing.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys
import time
from collections.abc import Callable

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5
REPEATS_KEPT = 5  # lines of one kind kept per window; the rest are counted
REPEATS_WINDOW_S = 60.0


class Repeats(logging.Filter):
    """Keeps at most ``kept`` records of one kind (logger, level, message template) per window, counts the rest
    and says how many were left out on the first record of that kind after the window.

    During an outage a client library logs the same complaint many times a second in every process (aiokafka:
    "Unable connect to node", about ten a second); the log would grow by megabytes a minute and bury the lines
    that matter. The first lines of each kind are kept whole, tracebacks included.
    """

    def __init__(
        self,
        kept: int = REPEATS_KEPT,
        window_s: float = REPEATS_WINDOW_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.kept = kept
        self.window_s = window_s
        self._monotonic = monotonic
        self._seen: dict[tuple[str, int, str], tuple[float, int, int]] = {}  # kind → (window start, kept, left out)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        kind = (record.name, record.levelno, str(record.msg))
        now = self._monotonic()
        started, kept, left_out = self._seen.get(kind, (now, 0, 0))
        if now - started >= self.window_s:
            if left_out:
                record.msg = f"{record.msg} [前 {self.window_s:.0f} 秒内另有 {left_out} 条同类日志未记]"
            self._seen[kind] = (now, 1, 0)
            return True
        if kept < self.kept:
            self._seen[kind] = (started, kept + 1, left_out)
            return True
        self._seen[kind] = (started, kept, left_out + 1)
        return False


class RotatingLog(logging.handlers.RotatingFileHandler):
    """A size-rotating log file that takes the process's stdout and stderr with it on every rotation."""

    def __init__(
        self, path: str, max_bytes: int = MAX_BYTES, backups: int = BACKUPS, *, adopt_std: bool = True
    ) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self.adopt_std = adopt_std
        self._private()

    def _private(self) -> None:
        """Logs are the operators' only (0600), like everything under .hall/."""
        with contextlib.suppress(OSError):
            os.chmod(self.baseFilename, 0o600)

    def doRollover(self) -> None:  # noqa: N802 (the logging module's name)
        super().doRollover()
        self._private()
        if self.adopt_std and self.stream is not None:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(self.stream.fileno(), 1)
            os.dup2(self.stream.fileno(), 2)


def configure_logging(level: int = logging.INFO, environ: dict[str, str] | None = None) -> None:
    """Log records to ``HALL_LOG_FILE`` (rotating) when it is set, else to stderr."""
    path = (os.environ if environ is None else environ).get("HALL_LOG_FILE", "")
    handler: logging.Handler = RotatingLog(path) if path else logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(Repeats())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
