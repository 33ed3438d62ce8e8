"""The delayed message that checks an unfinished upload at its deadline, for presigned
and tus uploads alike: the worker's `deadlines.py` fails the job then (or looks again
later). SQS delays a message at most 15 minutes; the worker waits out the rest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chute_core.aws import QueueUrls
from chute_core.events import deadline_message

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient

__all__ = ["UploadDeadlines"]

SQS_MAX_DELAY_SECONDS = 900


@dataclass(frozen=True)
class UploadDeadlines:
    sqs: SQSClient
    queues: QueueUrls
    queue: str

    async def schedule(self, job_id: str, tenant: str, *, after_seconds: int) -> None:
        await self.sqs.send_message(
            QueueUrl=await self.queues.url(self.queue),
            MessageBody=deadline_message(job_id, tenant),
            DelaySeconds=min(SQS_MAX_DELAY_SECONDS, after_seconds),
        )
