"""The queues' depth as gauges, polled on a fixed interval: one cheap
GetQueueAttributes per queue per interval. The API runs it at every scale, so queue
and DLQ alerts have series even when the workers are scaled to zero; the worker runs
it too, as its probe of SQS (a backend that hangs, rather than refuses, still turns
the worker not-ready within a poll)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge

from chute_core.aws import QueueUrls
from chute_core.pools import Pool

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sqs.literals import QueueAttributeNameType

__all__ = [
    "QUEUE_EXPORTER_ERRORS",
    "QUEUE_EXPORTER_LAST_SUCCESS",
    "QUEUE_MESSAGES",
    "QueueMonitor",
    "gauged_queues",
]

STATES = ("visible", "in_flight", "delayed")
ATTRIBUTES: tuple[QueueAttributeNameType, ...] = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)
QUEUE_MESSAGES = Gauge(
    "chute_queue_messages",
    "Approximate messages per pool, queue (main, dlq) and state (visible, in_flight, delayed).",
    ["pool", "queue", "state"],
)
QUEUE_EXPORTER_ERRORS = Counter(
    "chute_queue_exporter_errors", "Failed polls of the queues' attributes."
)
QUEUE_EXPORTER_LAST_SUCCESS = Gauge(
    "chute_queue_exporter_last_success_timestamp_seconds",
    "When the queues' attributes were last read successfully (Unix time).",
)


def gauged_queues(pools: Iterable[Pool]) -> dict[tuple[str, str], str]:
    """(pool, "main" | "dlq") -> queue name, for each pool."""
    return {
        key: name
        for pool in pools
        for key, name in (((pool.name, "main"), pool.queue), ((pool.name, "dlq"), pool.dlq))
    }


class QueueMonitor:
    def __init__(
        self,
        *,
        sqs: SQSClient,
        urls: QueueUrls,
        queues: Mapping[tuple[str, str], str],
        interval: float,
        on_success: Callable[[], None] = lambda: None,
        on_failure: Callable[[BaseException], None] = lambda exc: None,
    ) -> None:
        """`queues` maps (pool, "main" | "dlq") to a queue name; the callbacks hear
        each poll's outcome (the worker's readiness follows them)."""
        self._sqs = sqs
        self._names = queues
        self._urls = urls
        self._interval = interval
        self._on_success = on_success
        self._on_failure = on_failure

    async def poll_once(self) -> None:
        for (pool, label), name in self._names.items():
            response = await self._sqs.get_queue_attributes(
                QueueUrl=await self._urls.url(name), AttributeNames=list(ATTRIBUTES)
            )
            values = response.get("Attributes", {})
            for state, attribute in zip(STATES, ATTRIBUTES, strict=True):
                count = int(values.get(attribute) or 0)
                QUEUE_MESSAGES.labels(pool=pool, queue=label, state=state).set(count)
        QUEUE_EXPORTER_LAST_SUCCESS.set(time.time())

    async def poll(self) -> None:
        """One bounded poll, its outcome counted and reported; it never raises."""
        try:
            # A hung backend must not hang the probe: bound each poll by the interval.
            await asyncio.wait_for(self.poll_once(), timeout=max(1.0, self._interval))
        except Exception as exc:
            QUEUE_EXPORTER_ERRORS.inc()
            self._on_failure(exc)
        else:
            self._on_success()

    async def run(self, stop: asyncio.Event, *, polled: bool = False) -> None:
        """Poll every interval until `stop`; `polled`: the first poll is already done
        (at start-up), so wait an interval first."""
        if polled:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)
        while not stop.is_set():
            await self.poll()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)
