"""Streamed uploads: record the job, stream the request body to S3, queue the job."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from chute_api import metrics
from chute_api.body import IncomingFile, idle_limited
from chute_api.errors import UploadRejected
from chute_api.filenames import sanitize_filename
from chute_api.s3_writer import ObjectWriter
from chute_api.upload_rules import UploadRules
from chute_core.content_types import SNIFF_BYTES, detect_type, refine_type
from chute_core.errors import ChuteError, TransitionConflict
from chute_core.job_store import JobStore
from chute_core.jobs import Job, JobError, JobState, ObjectInfo, new_job, new_job_id
from chute_core.keys import ObjectKeys
from chute_core.logs import get_logger
from chute_core.pools import Pools
from chute_core.tracing import traceparent

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["StreamedUploads", "Upload"]

log = get_logger(__name__)


async def _read_head(chunks: AsyncIterator[bytes], limit: int) -> tuple[list[bytes], bool]:
    """The chunks of up to just over `limit` bytes, and whether that was the whole body."""
    head, size = [], 0
    async for chunk in chunks:
        head.append(chunk)
        size += len(chunk)
        if size > limit:
            return head, False
    return head, True


async def _hand_over(head: list[bytes], writer: ObjectWriter) -> None:
    """Write the head's chunks, letting go of each: the writer's part is then the only
    reference to those bytes (a second one would hold a whole part more)."""
    head.reverse()
    while head:
        await writer.write(head.pop())


@dataclass(frozen=True)
class Upload:
    """One upload as the route accepted it, with the caller's limits."""

    tenant: str
    incoming: IncomingFile
    rules: UploadRules
    expected_sha256: str | None = None


def _sniffed(head: list[bytes]) -> bytes:
    first, size = [], 0
    for chunk in head:
        first.append(chunk)
        size += len(chunk)
        if size >= SNIFF_BYTES:
            break
    return b"".join(first)[:SNIFF_BYTES]


@dataclass(frozen=True)
class StreamedUploads:
    """Uploads whose bytes stream through the API."""

    jobs: JobStore
    s3: S3Client
    keys: ObjectKeys
    pools: Pools
    bucket: str
    part_bytes: int
    job_ttl: timedelta
    idle_timeout: float

    async def accept(self, upload: Upload) -> Job:
        """Stream `incoming` into S3 under a new job; the job ends QUEUED, or FAILED with a
        reason and no object left behind when the upload does not complete.

        A body that fits in one part is buffered, so its size and digest are known before
        anything is written: one PutItem (QUEUED) and one PutObject. A larger body gets a
        RECEIVING record first, streams as a multipart upload, then moves to QUEUED."""
        started = time.perf_counter()
        metrics.UPLOADS_IN_PROGRESS.inc()
        try:
            job = await self._accept(upload)
        except UploadRejected:
            raise  # counted where it becomes a problem response
        except BaseException:
            metrics.UPLOADS_REJECTED.labels(reason="upload_interrupted").inc()
            raise
        finally:
            metrics.UPLOADS_IN_PROGRESS.dec()
            metrics.UPLOAD_SECONDS.observe(time.perf_counter() - started)
        size = job.object.size or 0
        metrics.UPLOAD_BYTES.inc(size)
        log.info(
            "upload_accepted", job_id=job.job_id, tenant=upload.tenant, size=size, state=job.state
        )
        return job

    async def _accept(self, upload: Upload) -> Job:
        tenant, incoming = upload.tenant, upload.incoming
        chunks = idle_limited(incoming.chunks, self.idle_timeout)
        head, whole = await _read_head(chunks, self.part_bytes)
        sniffed = _sniffed(head)
        if upload.rules.content_types is not None:  # before any AWS request
            upload.rules.check_content(
                sniffed, declared=incoming.content_type, filename=incoming.filename
            )
        content_type = incoming.content_type or "application/octet-stream"
        if self.pools.routes_types:  # the pool goes by what the bytes are
            content_type = refine_type(detect_type(sniffed), content_type, incoming.filename)
        pool = self.pools.route(
            tenant=tenant, processors=upload.rules.processors, content_type=content_type
        )
        job_id = new_job_id()
        key = self.keys.incoming(tenant, job_id, pool.segment)
        parent = traceparent()
        writer = ObjectWriter(
            self.s3,
            bucket=self.bucket,
            key=key,
            content_type=incoming.content_type,
            metadata={
                "job-id": job_id,
                "tenant": tenant,
                **({"traceparent": parent} if parent else {}),
            },
            part_size=self.part_bytes,
            max_bytes=upload.rules.max_bytes,
            expected_sha256=upload.expected_sha256,
        )
        obj = ObjectInfo(
            bucket=self.bucket,
            key=key,
            content_type=incoming.content_type,
            filename=sanitize_filename(incoming.filename),
        )
        if whole:
            # Only buffered so far (one part at most): rejections cost no AWS request.
            await _hand_over(head, writer)
            writer.require_content()
            writer.verify()
            obj.size = writer.size
        job = new_job(
            job_id=job_id,
            tenant=tenant,
            obj=obj,
            ttl=self.job_ttl,
            state=JobState.QUEUED if whole else JobState.RECEIVING,
            pool=pool.name,
        )
        job.traceparent = parent
        job.processors = upload.rules.processors
        job.callback_url = upload.rules.callback_url
        if whole:
            job.sha256 = writer.sha256
        await self.jobs.create(job)
        try:
            if not whole:
                await _hand_over(head, writer)
                async for chunk in chunks:
                    await writer.write(chunk)
            stored = await writer.finish()
        except BaseException as exc:
            # Shielded: a client disconnect cancels this task, and the cleanup must still run.
            await asyncio.shield(writer.abort())
            error = JobError.from_exception(exc, unexpected="upload_interrupted")
            await asyncio.shield(self._fail(job, error))
            log.info("upload_failed", job_id=job_id, tenant=tenant, code=error.code)
            raise
        if whole:
            return job
        details = {
            "object": obj.model_copy(update={"size": stored.size, "etag": stored.etag}).model_dump(
                exclude_none=True
            ),
            "sha256": stored.sha256,
        }
        try:
            return await self.jobs.transition(
                job_id, JobState.QUEUED, sources={JobState.RECEIVING}, set_values=details
            )
        except TransitionConflict as conflict:
            # The S3 event reached a worker before this write (always so on moto): the worker
            # owns the state now; record what the API measured without touching it.
            log.info("upload_overtaken", job_id=job_id, state=conflict.current.state)
            return await self.jobs.annotate(job_id, details)

    async def _fail(self, job: Job, error: JobError) -> None:
        try:
            await self.jobs.transition(
                job.job_id,
                JobState.FAILED,
                sources={job.state},
                set_values={"error": error.model_dump()},
            )
        except ChuteError as exc:
            log.warning("upload_fail_not_recorded", job_id=job.job_id, error=str(exc))
