"""JSON-lines logging on stdout, one event per line (DESIGN.md §6)."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from chute_core.tracing import current_ids

__all__ = ["configure_logging", "get_logger"]


def _add_trace_ids(
    logger: object, method: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    event.update(current_ids())
    return event


class _NamedWriter(structlog.WriteLogger):
    """structlog's stdout writer with the `name` that add_logger_name reads."""

    def __init__(self, name: str) -> None:
        super().__init__(sys.stdout)
        self.name = name


def _writer(*args: Any) -> _NamedWriter:
    return _NamedWriter(str(args[0]) if args else "")


def configure_logging(level: str | None = None) -> None:
    """Write chute's own events and the stdlib's (uvicorn, botocore) as JSON lines on
    stdout, at `level` (default: CHUTE_LOG_LEVEL, INFO).

    chute's events go straight from structlog to stdout: one processor chain, one write.
    Routing them through stdlib logging as well (a LogRecord, handler lock and
    formatter per line) tripled the cost of a line, and the worker writes two per job.
    A disabled level costs one method call that does nothing."""
    if level is None:
        from chute_core.settings import LogSettings, load

        level = load(LogSettings).log_level
    numeric = logging.getLevelNamesMapping()[level.upper()]
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_trace_ids,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    render = structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, render],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_writer,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            render,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.getLogger("aiobotocore").setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A logger whose events carry `"logger": name`, like the stdlib's lines."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger
