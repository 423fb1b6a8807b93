"""Every process's log: one file per service that rotates by size (10 MB × 5 kept), or stderr.

``./hall up`` starts each service with its output going to ``.hall/logs/<service>.log`` and ``HALL_LOG_FILE``
naming that file. The process then writes its log records through a rotating handler to the same file; at each
rotation its standard output and error are pointed at the new file too, so a crash's last words land there and
the old file stops growing.

Each record is one JSON line (:class:`JsonLines`): ``time`` (ISO 8601, the hall's local time, milliseconds),
``level``, ``service`` (and ``instance`` for a second process of a service), ``logger``, ``message``, and when
known ``trace_id`` / ``span_id`` (the current OpenTelemetry span's), ``case_no`` / ``case_id`` and ``exception``
(the traceback). The message and the traceback go through :func:`masked` first: an ID number or a mobile phone
number in them is masked as the pages mask it (``shared/pii.py``). The case comes from, in this order: the
record's own ``case_no`` (``log.info(..., extra={"case_no": ...})``), :func:`bind_case` (a context variable the
dispatch path sets around one record's handlers), the current span's ``hall.case_no`` attribute, or a case number
written in the message. ``./hall logs --case NO`` (``deploy/logs.py``) merges one case's lines from every log.
"""

from __future__ import annotations

import contextlib
import json
import logging
import logging.handlers
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path

from opentelemetry import trace

from shared.localtime import LOCAL
from shared.pii import mask_id, mask_phone

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


# ---------------------------------------------------------------- one JSON line per record

CASE_NO_ATTRIBUTE, CASE_ID_ATTRIBUTE = "hall.case_no", "hall.case_id"  # span attributes read for the case
_CASE: ContextVar[tuple[str, str]] = ContextVar("hall_log_case", default=("", ""))
# 18-character ID numbers (the last may be X) and mainland mobile numbers, standing alone: not inside a 20-digit
# case number, a hex trace id or a longer run of letters and digits.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9A-Za-z])(?:\+?86[- ]?)?1[3-9]\d{9}(?![0-9A-Za-z])")
# A case number (and a bundle child's): region code, date, serial: 15052520261126000051.
_CASE_NO = re.compile(r"(?<![0-9A-Za-z])\d{6}20\d{2}[01]\d[0-3]\d\d{6}(?![0-9A-Za-z])")


def masked(text: str) -> str:
    """``text`` with every ID number and mobile number in it masked (150***********1237, 139****5678)."""
    if not any(c.isdigit() for c in text):
        return text
    text = _ID_NUMBER.sub(lambda m: mask_id(m.group()), text)
    return _MOBILE.sub(lambda m: mask_phone(m.group()), text)


@contextlib.contextmanager
def bind_case(case_no: str = "", case_id: str = "") -> Iterator[None]:
    """Every record logged within (in this task or thread) carries this case."""
    token = _CASE.set((case_no, case_id))
    try:
        yield
    finally:
        _CASE.reset(token)


def current_case() -> tuple[str, str]:
    """(case number, case id) bound by :func:`bind_case`, else the current span's attributes, else empty."""
    bound = _CASE.get()
    if bound != ("", ""):
        return bound
    attributes = getattr(trace.get_current_span(), "attributes", None) or {}
    return str(attributes.get(CASE_NO_ATTRIBUTE, "")), str(attributes.get(CASE_ID_ATTRIBUTE, ""))


class JsonLines(logging.Formatter):
    """A record as one JSON line (see the module's docstring); ``service`` names the process's service."""

    def __init__(self, service: str, instance: str = "") -> None:
        super().__init__()
        self.service = service
        self.instance = instance if instance and instance != service else ""

    def format(self, record: logging.LogRecord) -> str:
        message = masked(record.getMessage())
        line: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, LOCAL).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
        }
        if self.instance:
            line["instance"] = self.instance
        line |= {"logger": record.name, "message": message}
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            line["trace_id"], line["span_id"] = f"{context.trace_id:032x}", f"{context.span_id:016x}"
        case_no, case_id = str(getattr(record, "case_no", "") or ""), str(getattr(record, "case_id", "") or "")
        if not case_no and not case_id:
            case_no, case_id = current_case()
        if not case_no:
            found = _CASE_NO.search(message)
            case_no = found.group() if found else ""
        if case_no:
            line["case_no"] = case_no
        if case_id:
            line["case_id"] = case_id
        if record.exc_info:
            line["exception"] = masked(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exception"] = masked(record.exc_text)
        if record.stack_info:
            line["stack"] = masked(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False)


def _service_of(path: str) -> tuple[str, str]:
    """(service, instance) from a log file's name: ``routing-2.log`` → ("routing", "routing-2")."""
    if not path:
        return "hall", ""
    stem = Path(path).name.split(".", 1)[0]
    return re.sub(r"-\d+$", "", stem), stem


def configure_logging(level: int = logging.INFO, environ: dict[str, str] | None = None, *, service: str = "") -> None:
    """Log records as JSON lines to ``HALL_LOG_FILE`` (rotating) when it is set, else to stderr; ``service``
    defaults to the log file's name (``routing-2.log``: service routing, instance routing-2)."""
    path = (os.environ if environ is None else environ).get("HALL_LOG_FILE", "")
    handler: logging.Handler = RotatingLog(path) if path else logging.StreamHandler()
    named, instance = _service_of(path)
    handler.setFormatter(JsonLines(service or named, instance))
    handler.addFilter(Repeats())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    _adopt("faststream")


def _adopt(prefix: str) -> None:
    """A library's loggers that print to the terminal themselves (FastStream's "app started" lines) hand their
    records to the root logger instead: JSON lines like every other."""
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if name.split(".", 1)[0] == prefix and isinstance(logger, logging.Logger):
            for own in [h for h in logger.handlers if type(h) is logging.StreamHandler]:
                logger.removeHandler(own)
            logger.propagate = True
