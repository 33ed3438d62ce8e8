"""DLQ tooling: list, redrive and purge dead-lettered messages.

Redrive works by receive -> send -> delete, which every SQS implementation supports
(moto lacks StartMessageMoveTask). The send comes before the delete, so a crash in
between leaves a duplicate, which the job's conditional writes absorb, never a loss.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chute_core.aws import QueueUrls
from chute_core.errors import ChuteError, JobNotFound, PoisonMessage, TransitionConflict
from chute_core.events import ObjectCreated, parse_body
from chute_core.job_store import JobStore
from chute_core.jobs import JobState
from chute_core.keys import ObjectKeys

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sqs.type_defs import MessageTypeDef

__all__ = ["DeadLetter", "Dlq"]

PEEK_VISIBILITY_SECONDS = 30


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    job_id: str | None
    reason: str
    receive_count: int
    age_seconds: float
    body: str
    receipt: str


class Dlq:
    def __init__(self, *, sqs: SQSClient, jobs: JobStore, keys: ObjectKeys, queue: str, dlq: str):
        self._sqs = sqs
        self._jobs = jobs
        self._keys = keys
        self._queue = queue
        self._dlq = dlq
        self._urls = QueueUrls(sqs)

    def _job_id(self, body: str) -> str | None:
        try:
            parsed = parse_body(body)
            if isinstance(parsed, list) and parsed and isinstance(parsed[0], ObjectCreated):
                return self._keys.parse_incoming(parsed[0].key)[1]
        except PoisonMessage:
            pass
        return None

    async def _reason(self, message: MessageTypeDef, job_id: str | None) -> str:
        attribute = message.get("MessageAttributes", {}).get("chute-reason")
        if attribute and attribute.get("StringValue"):
            return str(attribute["StringValue"])
        if job_id is not None:
            try:
                job = await self._jobs.get(job_id)
            except JobNotFound:
                return "no_job"
            if job.error is not None:
                return job.error.code
        return "max_receives_exceeded"

    async def _receive_all(self, dlq_url: str) -> AsyncIterator[DeadLetter]:
        """Every message now in the DLQ, each made invisible while we hold it."""
        seen: set[str] = set()
        while True:
            response = await self._sqs.receive_message(
                QueueUrl=dlq_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                VisibilityTimeout=PEEK_VISIBILITY_SECONDS,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            fresh = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
            if not fresh:
                return
            for m in fresh:
                seen.add(m["MessageId"])
                attributes = m.get("Attributes", {})
                sent_ms = int(attributes.get("SentTimestamp", "0"))
                job_id = self._job_id(m["Body"])
                yield DeadLetter(
                    message_id=m["MessageId"],
                    job_id=job_id,
                    reason=await self._reason(m, job_id),
                    receive_count=int(attributes.get("ApproximateReceiveCount", "0")),
                    age_seconds=max(0.0, time.time() - sent_ms / 1000) if sent_ms else 0.0,
                    body=m["Body"],
                    receipt=m["ReceiptHandle"],
                )

    async def _make_visible(self, dlq_url: str, letters: list[DeadLetter]) -> None:
        for i in range(0, len(letters), 10):
            await self._sqs.change_message_visibility_batch(
                QueueUrl=dlq_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": d.receipt, "VisibilityTimeout": 0}
                    for n, d in enumerate(letters[i : i + 10])
                ],
            )

    async def peek(self) -> list[DeadLetter]:
        dlq_url = await self._urls.url(self._dlq)
        letters = [d async for d in self._receive_all(dlq_url)]
        await self._make_visible(dlq_url, letters)
        return letters

    async def redrive(self, *, job_id: str | None = None) -> list[DeadLetter]:
        """Move the job's messages (or all) back to the main queue; their jobs are
        QUEUED again. Returns what was moved."""
        dlq_url, queue_url = await self._urls.url(self._dlq), await self._urls.url(self._queue)
        moved: list[DeadLetter] = []
        kept: list[DeadLetter] = []
        async for letter in self._receive_all(dlq_url):
            if job_id is not None and letter.job_id != job_id:
                kept.append(letter)
                continue
            if letter.job_id is not None:
                await self._requeue(letter.job_id)
            await self._sqs.send_message(QueueUrl=queue_url, MessageBody=letter.body)
            await self._sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=letter.receipt)
            moved.append(letter)
        await self._make_visible(dlq_url, kept)
        if job_id is not None and not moved:
            raise ChuteError(f"no message for job {job_id} in {self._dlq}")
        return moved

    async def _requeue(self, job_id: str) -> None:
        # No record, or already moving again: the message decides on its own.
        with contextlib.suppress(JobNotFound, TransitionConflict):
            await self._jobs.transition(
                job_id,
                JobState.QUEUED,
                sources={JobState.FAILED, JobState.QUEUED, JobState.RECEIVING},
                remove=(
                    "error",
                    "finished_at",
                    "processed_etag",
                    "lease_owner",
                    "lease_expires_at",
                ),
            )

    async def purge(self) -> None:
        await self._sqs.purge_queue(QueueUrl=await self._urls.url(self._dlq))
