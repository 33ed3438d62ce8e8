"""Presigned uploads that never arrive: at the deadline the job becomes FAILED
(`upload_expired`) and an unfinished multipart upload is aborted, so no parts linger.

The API sends one delayed message per presigned job; SQS delays at most 15 minutes,
so until the deadline the message is simply made invisible again for the time left."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from chute_core.errors import JobNotFound, TransitionConflict
from chute_core.events import UploadDeadline
from chute_core.job_store import JobStore
from chute_core.jobs import JobError, JobState, iso, parse_iso, utcnow
from chute_core.logs import get_logger
from chute_worker.decisions import Decision

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["expire_if_due"]

log = get_logger(__name__)
SQS_MAX_VISIBILITY_SECONDS = 43_200


async def expire_if_due(
    store: JobStore, s3: S3Client, bucket: str, event: UploadDeadline
) -> Decision:
    try:
        job = await store.get(event.job_id, tenant=event.tenant)
    except JobNotFound:
        return Decision.delete()
    direct = job.direct_upload
    if job.state is not JobState.AWAITING_UPLOAD or direct is None:
        return Decision.delete()  # it arrived (or was cancelled): nothing to expire
    deadline = parse_iso(direct.deadline)
    remaining = (deadline - utcnow()).total_seconds()
    if remaining > 0:
        return Decision.retry(min(SQS_MAX_VISIBILITY_SECONDS, math.ceil(remaining)))
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
    if direct.upload_id is not None:
        try:
            await s3.abort_multipart_upload(
                Bucket=bucket, Key=job.object.key, UploadId=direct.upload_id
            )
        except ClientError as exc:
            log.info("multipart_already_gone", job_id=job.job_id, error=str(exc))
    log.info("upload_expired", job_id=job.job_id, tenant=job.tenant)
    return Decision.delete()
