"""Uploads that never finish: a presigned upload past its deadline, a tus upload past its
expiry. The job becomes FAILED (`upload_expired`), its unfinished multipart
upload is aborted and a tus upload's tail deleted, so no bytes linger.

The API sends one delayed message per such job; SQS delays at most 15 minutes, so
until the deadline the message is simply made invisible again for the time left."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from chute_core.errors import JobNotFound, TransitionConflict
from chute_core.events import UploadDeadline
from chute_core.jobs import Job, JobError, JobState, iso, parse_iso, utcnow
from chute_core.logs import get_logger
from chute_core.resumable_jobs import ResumableJobs
from chute_worker.decisions import Decision

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["expire_if_due"]

log = get_logger(__name__)
SQS_MAX_VISIBILITY_SECONDS = 43_200


async def _abort(s3: S3Client, bucket: str, job: Job, upload_id: str | None) -> None:
    """Abort the job's unfinished multipart upload, so that no parts linger."""
    if upload_id is None:
        return
    try:
        await s3.abort_multipart_upload(Bucket=bucket, Key=job.object.key, UploadId=upload_id)
    except ClientError as exc:
        log.info("multipart_already_gone", job_id=job.job_id, error=str(exc))


def _retry_in(deadline: str) -> Decision | None:
    """Invisible again until `deadline`, or None once it has passed."""
    remaining = (parse_iso(deadline) - utcnow()).total_seconds()
    if remaining > 0:
        return Decision.retry(min(SQS_MAX_VISIBILITY_SECONDS, math.ceil(remaining)))
    return None


async def expire_if_due(
    store: ResumableJobs, s3: S3Client, bucket: str, event: UploadDeadline
) -> Decision:
    try:
        job = await store.get(event.job_id, tenant=event.tenant)
    except JobNotFound:
        return Decision.delete()
    if job.resumable is not None:
        return await _expire_resumable(store, s3, bucket, job)
    direct = job.direct_upload
    if job.state is not JobState.AWAITING_UPLOAD or direct is None:
        return Decision.delete()  # it arrived (or was cancelled): nothing to expire
    later = _retry_in(direct.deadline)
    if later is not None:
        return later
    try:
        await store.transition(
            job.job_id,
            JobState.FAILED,
            sources={JobState.AWAITING_UPLOAD},
            set_values={
                "error": JobError(
                    code="upload_expired", message=f"no upload arrived before {direct.deadline}"
                ).model_dump(),
                "finished_at": iso(utcnow()),
            },
        )
    except TransitionConflict:
        return Decision.delete()  # the object arrived at the last moment
    await _abort(s3, bucket, job, direct.upload_id)
    log.info("upload_expired", job_id=job.job_id, tenant=job.tenant)
    return Decision.delete()


async def _expire_resumable(store: ResumableJobs, s3: S3Client, bucket: str, job: Job) -> Decision:
    progress = job.resumable
    assert progress is not None
    if job.state is not JobState.RECEIVING:
        return Decision.delete()  # finished, terminated or failed: nothing to expire
    later = _retry_in(progress.expires)
    if later is not None:
        return later
    error = JobError(code="upload_expired", message=f"unfinished at {progress.expires}")
    if not await store.expire(job, error):
        return Decision.retry(1)  # a PATCH holds or extended it: read it again
    await _abort(s3, bucket, job, progress.upload_id)
    if progress.tail_key is not None:
        await s3.delete_object(Bucket=bucket, Key=progress.tail_key)
    log.info("upload_expired", job_id=job.job_id, tenant=job.tenant, offset=progress.offset)
    return Decision.delete()
