"""The consume loop: long-poll SQS for as many messages as there are free slots,
hand each to the JobRunner (runner.py) as a task, and act on its decision.

Shutdown (SIGTERM): stop receiving at once, give in-flight jobs the grace period,
then cancel what is left: each cancelled job is released (lease cleared) and its
message made visible again, so another worker takes it without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from typing import TYPE_CHECKING

import structlog

from chute_core.aws import QueueUrls
from chute_core.logs import get_logger
from chute_worker import metrics
from chute_worker.backend import BackendHealth
from chute_worker.decisions import Action, Decision
from chute_worker.deletes import DeleteBatcher
from chute_worker.failures import is_backend_outage
from chute_worker.runner import Delivery, JobRunner
from chute_worker.settings import WorkerSettings

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sqs.type_defs import MessageTypeDef

__all__ = ["Worker"]

log = get_logger(__name__)
MAX_BATCH = 10
MAX_BACKOFF_SECONDS = 15.0


class Worker:
    def __init__(
        self,
        *,
        sqs: SQSClient,
        queues: QueueUrls,
        runner: JobRunner,
        settings: WorkerSettings,
        backend: BackendHealth,
    ) -> None:
        self._sqs = sqs
        self._queues = queues
        self._runner = runner
        self._settings = settings
        self.backend = backend
        self._tasks: set[asyncio.Task[None]] = set()
        self._slot_freed = asyncio.Event()
        self._stopping = asyncio.Event()  # no more receives
        self._signalled = asyncio.Event()  # SIGTERM/SIGINT: the grace period applies
        self._queue_url = ""
        self._dlq_url = ""
        self._deletes: DeleteBatcher | None = None

    def stop(self) -> None:
        """Stop receiving (a signal); `run` then drains in-flight work within the grace
        period and returns."""
        if not self._stopping.is_set():
            log.info("worker_stopping", in_flight=len(self._tasks))
        self._signalled.set()
        self._stopping.set()

    async def _until_stopped(self, seconds: float) -> None:
        """Wait `seconds`, or less if stop() is called meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _connect(self) -> None:
        if self._queue_url:
            return
        pool = self._runner.pool  # the one the runner claims and finishes for
        self._queue_url = await self._queues.url(pool.queue)
        self._dlq_url = await self._queues.url(pool.dlq)
        self._deletes = DeleteBatcher(
            self._sqs,
            self._queue_url,
            wait=self._settings.delete_batch_wait_seconds,
            in_flight=lambda: len(self._tasks),
        )

    async def _receive(self, free: int) -> list[MessageTypeDef]:
        receive = asyncio.ensure_future(
            self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=min(MAX_BATCH, free),
                WaitTimeSeconds=self._settings.worker_wait_seconds,
                MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            )
        )
        stopping = asyncio.ensure_future(self._stopping.wait())
        done, _ = await asyncio.wait({receive, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if receive not in done:
            # Stopping with a long poll outstanding. Cancelling it would not stop SQS (or
            # moto) from answering it: what it returns is in flight for a visibility
            # timeout though nobody reads it. So take no new work, but let the poll end
            # (within the long-poll wait, inside the grace period) and hand back at once
            # whatever it brought.
            try:
                brought = (await receive).get("Messages", [])
            except Exception as exc:
                log.warning("last_receive_failed", error=str(exc))
                return []
            await self._hand_back(brought)
            return []
        return receive.result().get("Messages", [])

    async def _hand_back(self, messages: list[MessageTypeDef]) -> None:
        """Make messages received while stopping visible again, for another worker."""
        for start in range(0, len(messages), MAX_BATCH):
            batch = messages[start : start + MAX_BATCH]
            try:
                await self._sqs.change_message_visibility_batch(
                    QueueUrl=self._queue_url,
                    Entries=[
                        {
                            "Id": str(i),
                            "ReceiptHandle": m["ReceiptHandle"],
                            "VisibilityTimeout": 0,
                        }
                        for i, m in enumerate(batch)
                    ],
                )
            except Exception as exc:  # they come back after the visibility timeout instead
                log.warning("hand_back_failed", messages=len(batch), error=str(exc))
        if messages:
            log.info("messages_handed_back", messages=len(messages))

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                free = self._settings.worker_concurrency - len(self._tasks)
                if free <= 0:
                    self._slot_freed.clear()
                    await self._slot_freed.wait()
                    continue
                try:
                    await self._connect()
                    messages = await self._receive(free)
                except Exception as exc:
                    self.backend.failed(exc, where="receive")
                    failures = self.backend.consecutive_failures
                    ceiling = min(MAX_BACKOFF_SECONDS, 0.25 * 2**failures)
                    await self._until_stopped(random.uniform(ceiling / 2, ceiling))
                    continue
                self.backend.succeeded()
                self._observe_batch(messages)
                for message in messages:
                    task = asyncio.create_task(self._process(message))
                    self._tasks.add(task)
                    task.add_done_callback(self._reap)
                self._observe_slots()
                if self._settings.worker_one_batch:
                    self._stopping.set()  # one Job, one batch: finish it and exit
            await self._drain()
        finally:
            if self._deletes is not None:
                await self._deletes.close()

    def _observe_batch(self, messages: list[MessageTypeDef]) -> None:
        metrics.MESSAGES_RECEIVED.inc(len(messages))
        sent = [int(m.get("Attributes", {}).get("SentTimestamp", "0")) for m in messages]
        oldest = min((s for s in sent if s), default=0)
        age = max(0.0, time.time() - oldest / 1000) if oldest else 0.0
        metrics.QUEUE_OLDEST_AGE.labels(pool=self._settings.pool, queue="main").set(age)

    def _observe_slots(self) -> None:
        metrics.JOBS_IN_FLIGHT.set(len(self._tasks))
        metrics.FREE_SLOTS.set(self._settings.worker_concurrency - len(self._tasks))

    def _reap(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._observe_slots()
        self._slot_freed.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("message_task_crashed", error=repr(task.exception()))

    async def _drain(self) -> None:
        if self._tasks and not self._signalled.is_set():
            # A ScaledJob's own batch: it runs to its end (the Job's activeDeadlineSeconds
            # bounds it), unless a signal asks for the grace period.
            signalled = asyncio.ensure_future(self._signalled.wait())
            while self._tasks and not signalled.done():
                await asyncio.wait({*self._tasks, signalled}, return_when=asyncio.FIRST_COMPLETED)
            signalled.cancel()
        if self._tasks:
            log.info("worker_draining", in_flight=len(self._tasks))
            _, pending = await asyncio.wait(
                set(self._tasks), timeout=self._settings.shutdown_grace_seconds
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        log.info("worker_stopped")

    async def _process(self, message: MessageTypeDef) -> None:
        receive_count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))

        async def extend_visibility(seconds: int) -> None:
            await self._set_visibility(message, seconds)

        delivery = Delivery(
            message_id=message["MessageId"],
            body=message["Body"],
            receive_count=receive_count,
            extend_visibility=extend_visibility,
        )
        try:
            with structlog.contextvars.bound_contextvars(message_id=delivery.message_id):
                decision = await self._runner.handle(delivery)
        except asyncio.CancelledError:
            await asyncio.shield(self._release_message(message))
            raise
        except Exception as exc:
            if is_backend_outage(exc):
                self.backend.failed(exc, where="handle")
            log.warning("message_handling_error", message_id=message["MessageId"], error=repr(exc))
            decision = self._runner.retry_later(receive_count)
        await asyncio.shield(self._apply(message, decision))

    async def _set_visibility(self, message: MessageTypeDef, seconds: int) -> None:
        await self._sqs.change_message_visibility(
            QueueUrl=self._queue_url,
            ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=seconds,
        )

    async def _release_message(self, message: MessageTypeDef) -> None:
        try:
            await self._set_visibility(message, 0)
        except Exception as exc:
            log.warning("message_release_failed", message_id=message["MessageId"], error=str(exc))

    async def _apply(self, message: MessageTypeDef, decision: Decision) -> None:
        try:
            if decision.action is Action.DEAD_LETTER:
                metrics.DLQ_SENDS.labels(reason=decision.reason or "unknown").inc()
                await self._sqs.send_message(
                    QueueUrl=self._dlq_url,
                    MessageBody=message["Body"],
                    MessageAttributes={
                        "chute-reason": {
                            "DataType": "String",
                            "StringValue": decision.reason or "unknown",
                        },
                        "chute-source-message-id": {
                            "DataType": "String",
                            "StringValue": message["MessageId"],
                        },
                    },
                )
            if decision.action in (Action.DELETE, Action.DEAD_LETTER):
                # The slot stays taken until the message is gone: the worker never holds
                # more messages than its concurrency.
                assert self._deletes is not None
                await self._deletes.delete(message["ReceiptHandle"])
            elif decision.visibility is not None:
                await self._set_visibility(message, decision.visibility)
        except Exception as exc:
            # The message will simply come back; the job record's conditions keep it safe.
            log.warning("message_ack_failed", message_id=message["MessageId"], error=str(exc))
