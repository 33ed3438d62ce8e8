"""CHUTE_LOG_LEVEL: lines below the level are dropped, chute's and the stdlib's alike;
the rest are JSON lines naming their logger."""

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from chute_core.logs import configure_logging, get_logger


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    yield
    root.handlers[:], root.level = handlers, level
    structlog.configure(**config)


@pytest.mark.usefixtures("restore_logging")
def test_warning_level_drops_info_lines_and_keeps_warnings_as_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("WARNING")
    log = get_logger("chute.test")
    log.info("dropped_event")
    log.warning("kept_event", job_id="j1")
    logging.getLogger("uvicorn.access").info("dropped access line")
    logging.getLogger("uvicorn.error").warning("kept stdlib line")
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["event"], e["logger"], e["level"]) for e in events] == [
        ("kept_event", "chute.test", "warning"),
        ("kept stdlib line", "uvicorn.error", "warning"),
    ]
    assert events[0]["job_id"] == "j1"
