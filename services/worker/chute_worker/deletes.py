"""Batch message deletes: up to 10 receipts per DeleteMessageBatch call."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from chute_core.logs import get_logger

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sqs.type_defs import DeleteMessageBatchRequestEntryTypeDef

__all__ = ["DeleteBatcher"]

log = get_logger(__name__)
MAX_BATCH = 10


class DeleteBatcher:
    """`delete()` resolves once the message is deleted (or raises if it was not).
    Deletes arriving within `wait` seconds of the first pending one share one request.
    A batch goes at once when it is full, or when every message in flight
    (`in_flight()`, counting the ones waiting here) waits for its delete: nothing else
    could join it. `close()` sends whatever is still pending before it returns."""

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        *,
        wait: float,
        in_flight: Callable[[], int] = lambda: MAX_BATCH,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._wait = wait
        self._in_flight = in_flight
        self._pending: list[tuple[str, asyncio.Future[None]]] = []
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    async def delete(self, receipt: str) -> None:
        if self._closing:
            raise RuntimeError("the delete batcher is closed")
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush_forever())
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((receipt, done))
        self._arrived.set()
        if self._ready():
            self._full.set()
        await done

    def _ready(self) -> bool:
        """A full batch, or every message in flight is waiting here."""
        pending = len(self._pending)
        return pending > 0 and pending >= min(MAX_BATCH, self._in_flight())

    async def _flush_forever(self) -> None:
        while True:
            await self._arrived.wait()
            if not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self._wait)
            if not self._pending:
                return  # closing, and everything has been sent
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            if not self._ready():
                self._full.clear()
            if not self._pending and not self._closing:
                self._arrived.clear()
            await self._send(batch)

    async def _send(self, batch: list[tuple[str, asyncio.Future[None]]]) -> None:
        entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
            {"Id": str(i), "ReceiptHandle": r} for i, (r, _) in enumerate(batch)
        ]
        try:
            response = await self._sqs.delete_message_batch(
                QueueUrl=self._queue_url, Entries=entries
            )
        except Exception as exc:
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        failed = {f["Id"]: f for f in response.get("Failed", [])}
        for i, (_, done) in enumerate(batch):
            if done.done():
                continue
            if str(i) in failed:
                done.set_exception(RuntimeError(f"delete failed: {failed[str(i)].get('Code')}"))
            else:
                done.set_result(None)

    async def close(self) -> None:
        """Send what is pending without waiting for fuller batches, then stop."""
        self._closing = True
        self._arrived.set()
        self._full.set()
        if self._task is not None:
            await self._task
