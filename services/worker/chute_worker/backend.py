"""Whether AWS is reachable, as the worker has seen it; logged once per change."""

from __future__ import annotations

import time

from chute_core.logs import get_logger
from chute_worker import metrics

__all__ = ["BackendHealth"]

log = get_logger(__name__)


class BackendHealth:
    def __init__(self) -> None:
        self._down_since: float | None = None
        self._failures = 0
        self._reached = False  # not ready before the first successful call

    @property
    def available(self) -> bool:
        return self._reached and self._down_since is None

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def failed(self, exc: BaseException, *, where: str) -> None:
        self._failures += 1
        metrics.BACKEND_UP.set(0)
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("backend_unavailable", where=where, error=f"{type(exc).__name__}: {exc}")

    def succeeded(self) -> None:
        metrics.BACKEND_UP.set(1)
        if self._down_since is not None:
            log.info(
                "backend_available",
                after_seconds=round(time.monotonic() - self._down_since, 2),
                failures=self._failures,
            )
        self._down_since = None
        self._failures = 0
        self._reached = True
