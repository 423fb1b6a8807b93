"""Logs as JSON lines (shared/logs.py, issue 17 item 7): the fields, the masking of ID and phone numbers, the trace
and span ids of the current span, the case from the record, the bound context or the message; and ``./hall logs
--case`` (deploy/logs.py) merging one case's lines from every service's files, rotated ones too, in time order."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

from deploy.logs import case_lines, main
from shared.logs import JsonLines, bind_case, configure_logging, masked

CASE_NO = "15052520261130000042"


def record(msg: str, *args: object, level: int = logging.INFO, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("hall.routing", level, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def line(formatter: JsonLines, made: logging.LogRecord) -> dict[str, str]:
    text = formatter.format(made)
    assert "\n" not in text
    parsed: dict[str, str] = json.loads(text)
    return parsed


def test_a_record_is_one_json_line_with_time_level_service_logger_and_message() -> None:
    made = record("步骤 %s 已办结", "承办")
    found = line(JsonLines("routing", "routing-2"), made)
    assert list(found)[:6] == ["time", "level", "service", "instance", "logger", "message"]
    assert (found["level"], found["service"], found["instance"]) == ("INFO", "routing", "routing-2")
    assert (found["logger"], found["message"]) == ("hall.routing", "步骤 承办 已办结")
    when = datetime.fromisoformat(found["time"])
    assert when.utcoffset() is not None
    assert when.utcoffset().total_seconds() == 8 * 3600  # type: ignore[union-attr]  # the hall's local time
    assert abs(when.timestamp() - made.created) < 0.001
    assert "trace_id" not in found  # no span
    assert "case_no" not in found
    assert "instance" not in line(JsonLines("gateway", "gateway"), record("x"))


def test_id_numbers_and_phones_are_masked_but_case_numbers_and_trace_ids_are_not() -> None:
    text = (
        f"申请人 150525199001011237 电话 13912345678（+86 13812345678）办件 {CASE_NO} "
        "跟踪 4bf92f3577b34da6a3ce929d0e0e4736 旧号 15052519900101123X"
    )
    shown = masked(text)
    assert "150525199001011237" not in shown
    assert "150***********1237" in shown
    assert "139****5678" in shown
    assert "13812345678" not in shown
    assert "150***********123X" in shown
    assert CASE_NO in shown  # 20 digits: a case number, not an ID number
    assert "4bf92f3577b34da6a3ce929d0e0e4736" in shown
    found = line(JsonLines("gateway"), record("%s", text))
    assert found["message"] == shown
    assert found["case_no"] == CASE_NO  # taken from the message


def test_a_traceback_is_masked_too() -> None:
    try:
        raise ValueError("证件号码 150525199001011237 校验失败")
    except ValueError:
        made = logging.LogRecord("hall.intake", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    found = line(JsonLines("intake"), made)
    assert "ValueError" in found["exception"]
    assert "150525199001011237" not in found["exception"]
    assert "150***********1237" in found["exception"]


def test_the_current_span_gives_trace_and_span_ids() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("handle") as span:
        found = line(JsonLines("timing"), record("clock started"))
    context = span.get_span_context()
    assert found["trace_id"] == f"{context.trace_id:032x}"
    assert found["span_id"] == f"{context.span_id:016x}"


def test_the_case_comes_from_the_record_then_the_bound_context_then_the_span() -> None:
    formatter = JsonLines("evaluation")
    with bind_case(case_no=CASE_NO, case_id="c-42"):
        bound = line(formatter, record("rated"))
        own = line(formatter, record("rated", case_no="15052520261130000043"))
    assert (bound["case_no"], bound["case_id"]) == (CASE_NO, "c-42")
    assert own["case_no"] == "15052520261130000043"
    assert "case_no" not in line(formatter, record("rated"))  # unbound after the block
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("handle", attributes={"hall.case_no": CASE_NO, "hall.case_id": "c-42"}):
        from_span = line(formatter, record("rated"))
    assert (from_span["case_no"], from_span["case_id"]) == (CASE_NO, "c-42")


@pytest.fixture
def root_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.mark.usefixtures("root_restored")
def test_configure_logging_writes_json_lines_named_after_the_log_file(tmp_path: Path) -> None:
    path = tmp_path / "routing-2.log"
    configure_logging(environ={"HALL_LOG_FILE": str(path)})
    logging.getLogger("hall.routing").warning("电话 13912345678 的申请人 %s", CASE_NO)
    for handler in logging.getLogger().handlers:
        handler.flush()
    (written,) = [json.loads(text) for text in path.read_text().splitlines()]
    assert (written["service"], written["instance"], written["level"]) == ("routing", "routing-2", "WARNING")
    assert written["message"] == f"电话 139****5678 的申请人 {CASE_NO}"


def write(path: Path, *lines: dict[str, str] | str) -> None:
    path.write_text("".join((json.dumps(x, ensure_ascii=False) if isinstance(x, dict) else x) + "\n" for x in lines))


def test_one_cases_lines_from_every_log_in_time_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def at(second: int, service: str, message: str, **more: str) -> dict[str, str]:
        return {"time": f"2026-11-30T09:00:{second:02d}.000+08:00", "service": service, "message": message, **more}

    write(
        tmp_path / "gateway.log",
        at(1, "gateway", "受理", case_no=CASE_NO, case_id="c-42"),
        at(9, "gateway", "another case", case_no="15052520261130000043"),
        "2026-11-30 09:00:02,000 INFO hall.gateway an old plain line " + CASE_NO,
    )
    write(tmp_path / "routing.log.1", at(3, "routing", "opened by id", case_id="c-42"))
    write(tmp_path / "routing-2.log", at(2, "routing", "step", case_no=CASE_NO), "{not json")
    write(tmp_path / "timing.log", at(4, "timing", "other id", case_id="c-43"))
    write(tmp_path / "kafka.log", "[2026-11-30 09:00:00,000] INFO " + CASE_NO)
    found = case_lines(tmp_path, CASE_NO)
    assert [(x["service"], x["message"]) for x in found] == [
        ("gateway", "受理"),
        ("routing", "step"),
        ("routing", "opened by id"),  # known by the case id another line gave with the number
    ]
    assert main([CASE_NO, "--logs", str(tmp_path)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3
    assert printed[0].startswith("2026-11-30T09:00:01.000+08:00 gateway")
    assert main(["15052520261130000099", "--logs", str(tmp_path)]) == 1
