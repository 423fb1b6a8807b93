"""``./hall logs --case NO``: one case's log lines from every service's log, in time order.

Every service writes JSON lines (``shared/logs.py``) to ``.hall/logs/<instance>.log`` and its rotated files
(``.log.1`` … ``.log.5``). A line belongs to the case when its ``case_no`` is the number asked for, or when it
carries only a ``case_id`` that another line of the case carried along with the number (a handler that knew the
case by its id). Lines that are not JSON (Kafka's and Redis's logs, a crash's raw output, files written before
the JSON lines) are passed over. The files are read line by line, twice at most: nothing but the case's lines is
kept in memory.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

NOT_SERVICES = ("kafka", "redis")  # their own formats, and large


def log_files(logs: Path) -> list[Path]:
    """The services' logs and their rotated files."""
    found = [p for p in logs.glob("*.log*") if p.is_file() and p.name.split(".", 1)[0] not in NOT_SERVICES]
    return sorted(found)


def _lines(files: list[Path]) -> Iterator[dict[str, Any]]:
    for path in files:
        with path.open(encoding="utf-8", errors="replace") as lines:
            for text in lines:
                if not text.startswith("{"):
                    continue
                try:
                    line = json.loads(text)
                except ValueError:
                    continue
                if isinstance(line, dict):
                    yield line


def _when(line: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(line.get("time", "")))
    except ValueError:
        return datetime.min.replace(tzinfo=None)


def case_lines(logs: Path, case_no: str) -> list[dict[str, Any]]:
    """The case's lines from every service's log under ``logs``, oldest first."""
    files = log_files(logs)
    found = [line for line in _lines(files) if line.get("case_no") == case_no]
    ids = {str(line["case_id"]) for line in found if line.get("case_id")}
    if ids:
        found += [line for line in _lines(files) if not line.get("case_no") and line.get("case_id") in ids]
    aware = [line for line in found if _when(line).tzinfo is not None]
    return sorted(aware, key=_when)


def shown(line: dict[str, Any]) -> str:
    """One line for people: time, service (instance), level, logger, message, trace id."""
    who = line.get("instance") or line.get("service", "?")
    level, logger, message = line.get("level", ""), line.get("logger", ""), line.get("message", "")
    text = f"{line.get('time', '')} {who:<12} {level:<7} {logger}: {message}"
    if line.get("trace_id"):
        text += f"  [trace {line['trace_id']}]"
    if line.get("exception"):
        text += "\n  " + str(line["exception"]).replace("\n", "\n  ")
    return text


def print_case(logs: Path, case_no: str, *, as_json: bool = False) -> int:
    lines = case_lines(logs, case_no)
    for line in lines:
        print(json.dumps(line, ensure_ascii=False) if as_json else shown(line))  # noqa: T201
    if not lines:
        print(f"hall: no log lines of case {case_no} in {logs}", file=sys.stderr)  # noqa: T201
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hall logs --case")
    parser.add_argument("case_no")
    parser.add_argument("--logs", type=Path, default=Path(__file__).resolve().parent.parent / ".hall" / "logs")
    parser.add_argument("--json", action="store_true", help="the JSON lines as written")
    args = parser.parse_args(argv)
    return print_case(args.logs, args.case_no, as_json=args.json)


if __name__ == "__main__":
    sys.exit(main())
