"""A configuration file re-read when it changes (a Kubernetes Secret or ConfigMap
mounted as a file is swapped atomically), at most once per interval, keeping the last
good content when an edit is broken."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from chute_core.errors import ChuteError
from chute_core.logs import get_logger

__all__ = ["WatchedFile"]

T = TypeVar("T")
log = get_logger(__name__)


class WatchedFile(Generic[T]):
    def __init__(
        self, path: Path, parse: Callable[[Path], T], *, empty: T, check_interval: float = 1.0
    ) -> None:
        self.path = path
        self._parse = parse
        self._value = empty
        self._interval = check_interval
        self._signature: tuple[int, int, int] | None = None
        self._checked_at = 0.0

    def current(self) -> T:
        now = time.monotonic()
        if self._signature is not None and now - self._checked_at < self._interval:
            return self._value
        self._checked_at = now
        try:
            st = self.path.stat()
            signature = (st.st_mtime_ns, st.st_ino, st.st_size)
        except FileNotFoundError:
            signature = (0, 0, 0)
        if signature != self._signature:
            try:
                self._value = self._parse(self.path)
                self._signature = signature
            except ChuteError as exc:  # keep serving the last good content
                log.warning("config_file_invalid", path=str(self.path), error=str(exc))
        return self._value
