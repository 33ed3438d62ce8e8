"""Poll the queues' attributes on a fixed interval: one cheap GetQueueAttributes per
queue per interval. Each poll doubles as the worker's probe of SQS, so a backend
that hangs (rather than refuses) still turns the worker not-ready within a poll."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from chute_core.aws import QueueUrls
from chute_core.logs import get_logger
from chute_worker import metrics
from chute_worker.backend import BackendHealth

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sqs.literals import QueueAttributeNameType

__all__ = ["QueueMonitor"]

log = get_logger(__name__)
STATES = ("visible", "in_flight", "delayed")
ATTRIBUTES: tuple[QueueAttributeNameType, ...] = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


class QueueMonitor:
    def __init__(
        self,
        *,
        sqs: SQSClient,
        urls: QueueUrls,
        queues: dict[str, str],
        backend: BackendHealth,
        interval: float,
    ) -> None:
        """`queues` maps a label ("main", "dlq") to a queue name."""
        self._sqs = sqs
        self._names = queues
        self._urls = urls
        self._backend = backend
        self._interval = interval

    async def poll_once(self) -> None:
        for label, name in self._names.items():
            response = await self._sqs.get_queue_attributes(
                QueueUrl=await self._urls.url(name), AttributeNames=list(ATTRIBUTES)
            )
            values = response.get("Attributes", {})
            for state, attribute in zip(STATES, ATTRIBUTES, strict=True):
                metrics.QUEUE_MESSAGES.labels(queue=label, state=state).set(
                    int(values.get(attribute) or 0)
                )
        metrics.QUEUE_EXPORTER_LAST_SUCCESS.set(time.time())

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                # A hung backend must not hang the probe: bound each poll by the interval.
                await asyncio.wait_for(self.poll_once(), timeout=max(1.0, self._interval))
            except Exception as exc:
                metrics.QUEUE_EXPORTER_ERRORS.inc()
                self._backend.failed(exc, where="queue_attributes")
            else:
                self._backend.succeeded()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)
