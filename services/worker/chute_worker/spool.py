"""Local copies of objects for processors that need a file, within a disk budget.

The budget is shared by every job of the worker: a copy reserves the object's size
before it is written and gives it back when the job is done. An object larger than
the whole budget can never be spooled and fails its job at once."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from chute_core.errors import ProcessorError

__all__ = ["SpoolArea"]


class SpoolArea:
    def __init__(self, directory: Path | None, capacity_bytes: int) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="chute-spool-", dir=directory))
        self.capacity = capacity_bytes
        self.used = 0
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def reserve(self, size: int) -> AsyncIterator[None]:
        if size > self.capacity:
            raise ProcessorError(
                "input_too_large",
                f"the object ({size} bytes) exceeds the worker's spool budget "
                f"({self.capacity} bytes)",
                retryable=False,
            )
        async with self._changed:
            await self._changed.wait_for(lambda: self.used + size <= self.capacity)
            self.used += size
        try:
            yield
        finally:
            async with self._changed:
                self.used -= size
                self._changed.notify_all()

    def job_directory(self, job_id: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=f"{job_id}-", dir=self.root))
        return path

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
