"""One overdue job's repair: decide from the evidence, act with conditional writes.

Every write names the state and the deadline the pass read (`due_was`), so any number of
reconcilers may run at once: the first to act wins, the others see a conflict and leave
the job alone. Each repair is one `Repair`, logged as one line by the pass."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from chute_core.due import DUE_FIELDS
from chute_core.errors import TransitionConflict
from chute_core.events import object_created_message
from chute_core.jobs import Job, JobError, JobState, iso, parse_iso, utcnow
from chute_core.pools import DEFAULT_POOL
from chute_core.resumable_jobs import ResumableJobs
from chute_ops.reconciler.evidence import StoredObject, multipart_uploads, stored

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_sqs import SQSClient

    from chute_worker.webhook_delivery import WebhookSender

__all__ = ["Repair", "Repairs"]


@dataclass(frozen=True)
class Repair:
    job_id: str
    state: str  # the state the job was found in
    action: str  # queued, republished, failed, postponed, waiting, delivered, cleared, raced
    found: str  # the evidence, in words
    code: str | None = None  # the error code of a failed job


@dataclass
class Repairs:
    store: ResumableJobs
    s3: S3Client
    sqs: SQSClient
    queue_urls: Mapping[str, str]  # pool name -> its queue's URL
    max_republish: int
    webhooks: WebhookSender | None = None

    async def upload(self, job: Job) -> Repair:
        """AWAITING_UPLOAD or RECEIVING overdue: queue it if its object is stored, else
        end the upload (abort what S3 holds of it) unless it is still moving."""
        obj = await stored(self.s3, job.object.bucket, job.object.key)
        if obj is not None:
            return await self._requeue(job, obj, "object stored, no event", "queued")
        if job.resumable is not None and parse_iso(job.resumable.expires) > utcnow():
            return await self._postpone(job, "tus upload not expired yet")
        uploads = await multipart_uploads(self.s3, job.object.bucket, job.object.key)
        recent = utcnow() - timedelta(seconds=self.store.due.stuck_after_seconds)
        live = [u for u in uploads if u.last_part_at is not None and u.last_part_at > recent]
        if live and job.state is JobState.RECEIVING and job.resumable is None:
            return await self._postpone(job, "multipart upload still receiving parts")
        streamed = job.state is JobState.RECEIVING and job.resumable is None
        code = "upload_interrupted" if streamed else "upload_expired"
        error = JobError(code=code, message=f"no object after {job.state} ended ({code})")
        if job.resumable is not None:
            if not await self.store.expire(job, error):
                return Repair(job.job_id, job.state, "raced", "a PATCH holds the upload")
        elif (refused := await self._fail(job, error, "no object")).action == "raced":
            return refused
        for upload in uploads:
            await self._abort(job, upload.upload_id)
        if job.resumable is not None and job.resumable.tail_key is not None:
            await self.s3.delete_object(Bucket=job.object.bucket, Key=job.resumable.tail_key)
        found = f"no object, {len(uploads)} multipart uploads aborted"
        return Repair(job.job_id, job.state, "failed", found, code)

    async def message(self, job: Job, obj: StoredObject | None, *, lost: bool) -> Repair:
        """QUEUED, or PROCESSING under a lapsed lease, overdue: re-send its event when the
        message is presumed lost (`lost_messages`), fail it after `max_republish` tries."""
        if obj is None:
            error = JobError(code="upload_interrupted", message="queued, but no object stored")
            return await self._fail(job, error, "no object")
        if not lost:
            return Repair(job.job_id, job.state, "waiting", "the queue may still hold it")
        if job.republished >= self.max_republish:
            error = JobError(
                code="event_lost",
                message=f"its event was lost {job.republished + 1} times",
                retryable=True,
            )
            return await self._fail(job, error, f"re-sent {job.republished} times")
        return await self._requeue(job, obj, "message presumed lost", "republished")

    async def processing(self, job: Job) -> Repair | None:
        """PROCESSING overdue: a live lease means a long job (look again later); None
        means the lease lapsed and the job waits for a message like a QUEUED one."""
        lease = job.lease_expires_at
        if lease is not None and parse_iso(lease) > utcnow():
            return await self._postpone(job, f"lease held by {job.lease_owner}")
        return None

    async def terminal(self, job: Job) -> Repair:
        """A terminal job still due: its webhook's delivery was never recorded."""
        if job.webhook is not None and job.webhook.get("outcome"):
            await self.store.annotate(job.job_id, {}, remove=DUE_FIELDS)
            return Repair(job.job_id, job.state, "cleared", "webhook outcome recorded")
        if self.webhooks is None or not self.webhooks.target(job):
            return Repair(job.job_id, job.state, "waiting", "webhook not configured here")
        self.webhooks.schedule(job)
        await self.webhooks.drain(self.webhooks.max_seconds)
        return Repair(job.job_id, job.state, "delivered", "webhook outcome missing")

    async def _requeue(self, job: Job, obj: StoredObject, found: str, action: str) -> Repair:
        """QUEUED with the next look backed off, then the event sent: a crash between
        the two leaves a QUEUED job that the next pass finds overdue again."""
        now = utcnow()
        sources = {job.state} | ({JobState.PROCESSING} if job.state is JobState.QUEUED else set())
        try:
            await self.store.transition(
                job.job_id,
                JobState.QUEUED,
                sources=sources,
                due_was=job.due_at,
                set_values={
                    "republished": job.republished + 1,
                    "due_at": self.store.due.backoff(now, job.republished + 1),
                    "object": job.object.model_copy(
                        update={"etag": obj.etag, "size": obj.size}
                    ).model_dump(exclude_none=True),
                },
                remove=("lease_owner", "lease_expires_at"),
                returning=False,
            )
        except TransitionConflict:
            return Repair(job.job_id, job.state, "raced", "moved since read")
        # To the job's pool's queue (a pool since removed: the default pool's).
        url = self.queue_urls.get(job.pool) or self.queue_urls[DEFAULT_POOL]
        await self.sqs.send_message(
            QueueUrl=url,
            MessageBody=object_created_message(
                job.object.bucket, job.object.key, size=obj.size, etag=obj.etag
            ),
        )
        return Repair(job.job_id, job.state, action, f"{found}, etag {obj.etag}")

    async def _fail(self, job: Job, error: JobError, found: str) -> Repair:
        try:
            await self.store.transition(
                job.job_id,
                JobState.FAILED,
                sources={job.state},
                due_was=job.due_at,
                set_values={"error": error.model_dump(), "finished_at": iso(utcnow())},
                remove=("lease_owner", "lease_expires_at"),
                returning=False,
            )
        except TransitionConflict:
            return Repair(job.job_id, job.state, "raced", "moved since read")
        return Repair(job.job_id, job.state, "failed", found, error.code)

    async def _postpone(self, job: Job, found: str) -> Repair:
        later = int(utcnow().timestamp() + self.store.due.stuck_after_seconds) + 1
        try:
            await self.store.transition(
                job.job_id,
                job.state,
                sources={job.state},
                due_was=job.due_at,
                set_values={"due_at": later},
                returning=False,
            )
        except TransitionConflict:
            return Repair(job.job_id, job.state, "raced", "moved since read")
        return Repair(job.job_id, job.state, "postponed", found)

    async def _abort(self, job: Job, upload_id: str) -> None:
        with contextlib.suppress(ClientError):  # already completed or aborted
            await self.s3.abort_multipart_upload(
                Bucket=job.object.bucket, Key=job.object.key, UploadId=upload_id
            )
