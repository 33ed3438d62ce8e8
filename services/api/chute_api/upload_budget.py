"""The replica's memory budget for upload buffers (CHUTE_API_UPLOAD_MEMORY_BYTES).

Every streamed upload reserves what its buffers can hold before the API reads its body
or calls AWS: one and a quarter parts (one part in flight to S3, a quarter of the next
being read; `s3_writer.py` keeps to it), or less for a body declared smaller than a part. When the
budget is spent, a new upload waits a short bounded time for room, then is refused with
503 `server-busy` and Retry-After: the pod says "not now" instead of growing past its
memory limit and being OOM-killed with every upload in flight. Reads never reserve.

While the budget cannot fit one full reservation for longer than `unready_after`
seconds, readiness fails, so the Service sends new uploads to other replicas."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from chute_api import metrics
from chute_api.errors import ServerBusy

__all__ = ["UploadBudget", "upload_reservation"]

CHUNK_SLACK = 256 * 1024  # a request chunk read past the buffer's mark, and the headers


def upload_reservation(part_bytes: int, declared_length: int | None) -> int:
    """Bytes one upload's buffers may hold: 1.25 parts, or a small body's own size."""
    full = part_bytes + part_bytes // 4 + CHUNK_SLACK
    if declared_length is not None and declared_length <= part_bytes:
        return min(full, declared_length + CHUNK_SLACK)
    return full


@dataclass
class UploadBudget:
    total: int
    full_reservation: int  # what one large upload reserves
    wait_seconds: float
    retry_after_seconds: int
    unready_after: float
    in_use: int = 0
    waiting: int = 0
    _room: asyncio.Condition = field(default_factory=asyncio.Condition)
    _short_since: float | None = None  # when free room fell below one full reservation

    def __post_init__(self) -> None:
        metrics.UPLOAD_MEMORY_BUDGET.set(self.total)
        self._publish()

    @asynccontextmanager
    async def reserve(self, size: int) -> AsyncIterator[None]:
        """Hold `size` bytes of the budget for the block; ServerBusy when no room comes
        within `wait_seconds`. A reservation larger than the whole budget waits for an
        empty budget rather than never fitting."""
        size = min(size, self.total)
        async with self._room:
            if not self._fits(size):
                self.waiting += 1
                self._publish()
                try:
                    async with asyncio.timeout(self.wait_seconds):
                        await self._room.wait_for(lambda: self._fits(size))
                except TimeoutError:
                    raise ServerBusy(self.retry_after_seconds) from None
                finally:
                    self.waiting -= 1
                    self._publish()
            self.in_use += size
            self._publish()
        try:
            yield
        finally:
            async with self._room:
                self.in_use -= size
                self._publish()
                self._room.notify_all()

    def _fits(self, size: int) -> bool:
        return self.in_use + size <= self.total

    def _publish(self) -> None:
        metrics.UPLOAD_MEMORY_IN_USE.set(self.in_use)
        metrics.UPLOADS_WAITING.set(self.waiting)
        short = self.total - self.in_use < self.full_reservation
        if not short:
            self._short_since = None
        elif self._short_since is None:
            self._short_since = time.monotonic()

    def exhausted_for(self) -> float:
        """Seconds the budget has had no room for one more large upload (0: it has)."""
        return 0.0 if self._short_since is None else time.monotonic() - self._short_since

    @property
    def ready(self) -> bool:
        return self.exhausted_for() <= self.unready_after
