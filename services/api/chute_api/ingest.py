"""The upload path: record the job, stream the bytes to S3, queue the job."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from chute_api import metrics
from chute_api.body import IncomingFile
from chute_api.deps import Runtime
from chute_api.s3_writer import ObjectWriter
from chute_core.errors import ChuteError, TransitionConflict, UploadRejected
from chute_core.jobs import Job, JobState, ObjectInfo, new_job, new_job_id
from chute_core.logs import get_logger
from chute_core.tracing import traceparent

__all__ = ["ingest"]

log = get_logger(__name__)


async def _fail(runtime: Runtime, job_id: str, code: str, message: str) -> None:
    try:
        await runtime.jobs.transition(
            job_id,
            JobState.FAILED,
            sources={JobState.RECEIVING},
            set_values={"error": {"code": code, "message": message, "retryable": False}},
        )
    except ChuteError as exc:
        log.warning("upload_fail_not_recorded", job_id=job_id, error=str(exc))


async def ingest(*, runtime: Runtime, tenant: str, incoming: IncomingFile) -> Job:
    """Stream `incoming` into S3 under a new job; the job ends QUEUED, or FAILED with a
    reason and no object left behind when the upload does not complete."""
    job_id = new_job_id()
    key = runtime.keys.incoming(tenant, job_id)
    obj = ObjectInfo(
        bucket=runtime.pipeline.bucket,
        key=key,
        content_type=incoming.content_type,
        filename=incoming.filename,
    )
    job = new_job(
        job_id=job_id,
        tenant=tenant,
        obj=obj,
        ttl=timedelta(days=runtime.pipeline.job_ttl_days),
        state=JobState.RECEIVING,
    )
    parent = traceparent()
    if parent:
        job.traceparent = parent
    await runtime.jobs.create(job)
    writer = ObjectWriter(
        runtime.s3,
        bucket=obj.bucket,
        key=key,
        content_type=incoming.content_type,
        metadata={
            "job-id": job_id,
            "tenant": tenant,
            **({"traceparent": parent} if parent else {}),
        },
        part_size=runtime.api.upload_part_bytes,
        max_bytes=runtime.api.max_upload_bytes,
    )
    started = time.perf_counter()
    metrics.UPLOADS_IN_PROGRESS.inc()
    try:
        async for chunk in incoming.chunks:
            await writer.write(chunk)
        stored = await writer.finish()
    except BaseException as exc:
        metrics.UPLOADS_IN_PROGRESS.dec()
        metrics.UPLOAD_SECONDS.observe(time.perf_counter() - started)
        # Shielded: a client disconnect cancels this task, and the cleanup must still run.
        await asyncio.shield(writer.abort())
        if isinstance(exc, UploadRejected):  # counted where it becomes a problem response
            code, message = exc.code, exc.detail
        else:
            code, message = "upload_interrupted", f"upload did not complete: {type(exc).__name__}"
            metrics.UPLOADS_REJECTED.labels(reason=code).inc()
        await asyncio.shield(_fail(runtime, job_id, code, message))
        log.info("upload_failed", job_id=job_id, tenant=tenant, code=code)
        raise
    metrics.UPLOADS_IN_PROGRESS.dec()
    metrics.UPLOAD_SECONDS.observe(time.perf_counter() - started)
    metrics.UPLOAD_BYTES.inc(stored.size)
    details = {
        "object": obj.model_copy(update={"size": stored.size, "etag": stored.etag}).model_dump(
            exclude_none=True
        ),
        "sha256": stored.sha256,
    }
    try:
        job = await runtime.jobs.transition(
            job_id, JobState.QUEUED, sources={JobState.RECEIVING}, set_values=details
        )
    except TransitionConflict as conflict:
        # The S3 event reached a worker before this write (always so on moto): the worker
        # owns the state now; record what the API measured without touching it.
        job = await runtime.jobs.annotate(job_id, details)
        log.info("upload_overtaken", job_id=job_id, state=conflict.current.state)
    log.info("upload_accepted", job_id=job_id, tenant=tenant, size=stored.size)
    return job
