"""JSON-lines logging on stdout, one event per line (DESIGN.md §6)."""

from __future__ import annotations

import logging
import sys

import structlog

from chute_core.tracing import current_ids

__all__ = ["configure_logging", "get_logger"]


def _add_trace_ids(
    logger: object, method: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    event.update(current_ids())
    return event


def configure_logging(level: str | None = None) -> None:
    """Route structlog and the stdlib (uvicorn, botocore) through one JSON renderer, at
    `level` (default: CHUTE_LOG_LEVEL, INFO)."""
    if level is None:
        from chute_core.settings import LogSettings, load

        level = load(LogSettings).log_level
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_trace_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        # Filter first: a disabled level then costs one comparison, not the chain.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.getLogger("aiobotocore").setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
