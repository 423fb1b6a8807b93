"""Logs an operator can read (issue 11, item 8): a refusal is one INFO line with its reason, a failure an ERROR
with its traceback and trace id, and the files rotate by size instead of growing to 48 MB."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar, get
from litestar.logging import LoggingConfig
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from opentelemetry.sdk.trace import TracerProvider

from services.gateway.app import log_exception
from shared.logs import RotatingLog
from tests.halls import InProcessHall, asgi_client

pytestmark = pytest.mark.integration


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def collected() -> Iterator[Collect]:
    """Every record of the gateway's and the framework's loggers (the framework's does not propagate)."""
    handler = Collect()
    loggers = [logging.getLogger(name) for name in ("litestar", "")]
    for logger in loggers:
        logger.addHandler(handler)
    old_level = logging.getLogger("hall.gateway").level
    logging.getLogger("hall.gateway").setLevel(logging.INFO)
    yield handler
    logging.getLogger("hall.gateway").setLevel(old_level)
    for logger in loggers:
        logger.removeHandler(handler)


async def test_a_401_is_one_info_line_with_the_reason_and_no_traceback(hall: InProcessHall, collected: Collect) -> None:
    response = await hall.client.get("/api/departments/自然资源局/steps")
    assert response.status_code == 401
    ours = [r for r in collected.records if "/api/departments/" in r.getMessage()]
    assert len(ours) == 1, [r.getMessage() for r in collected.records]
    record = ours[0]
    assert record.levelno == logging.INFO
    assert record.exc_info is None
    line = record.getMessage()
    assert line.startswith("401 GET /api/departments/")
    assert response.json()["detail"] in line
    assert "\n" not in line
    assert not [r for r in collected.records if r.levelno >= logging.ERROR]


async def test_a_500_is_an_error_with_traceback_and_trace_id(collected: Collect) -> None:
    @get("/boom")
    async def boom() -> None:
        raise RuntimeError("the disk is full")

    app = Litestar(
        [boom],
        after_exception=[log_exception],
        logging_config=LoggingConfig(log_exceptions="never", configure_root_logger=False),
        plugins=[OpenTelemetryPlugin(OpenTelemetryConfig(tracer_provider=TracerProvider()))],
    )
    async with asgi_client(app) as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    errors = [r for r in collected.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert "the disk is full" in str(errors[0].exc_info[1])
    assert re.fullmatch(r"500 GET /boom failed \(trace [0-9a-f]{32}\)", errors[0].getMessage())


def test_a_log_file_rotates_by_size_and_keeps_five(tmp_path: Path) -> None:
    path = tmp_path / "gateway.log"
    handler = RotatingLog(str(path), max_bytes=10_000, backups=5, adopt_std=False)
    logger = logging.getLogger("hall.test.rotation")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for n in range(2_000):
            logger.warning("line %05d %s", n, "x" * 80)
    finally:
        logger.removeHandler(handler)
        handler.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["gateway.log", *(f"gateway.log.{n}" for n in range(1, 6))]
    assert all((tmp_path / name).stat().st_size <= 10_000 for name in files)
    assert "line 01999" in path.read_text()
