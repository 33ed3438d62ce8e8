"""tus uploads: a job RECEIVING while its bytes arrive in any number of PATCHes, on any
replica, then QUEUED with its SHA-256 like every other upload.

The job record is the upload's state (`ResumableUpload`: offset, parts, tail, hash
state, expiry) and its lock (`ResumableJobs`); S3 holds the bytes (`tus_appender.py`).
Nothing is kept on the replica between requests. An unfinished upload expires
`tus_expire_seconds` after its creation (at most a day: the bucket's lifecycle rule
aborts a multipart upload a day after it starts, whatever its activity): the job is due
then, and the reconciler (`chute reconcile`) fails it `upload_expired`, aborts its
multipart upload and deletes its tail.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from starlette.requests import ClientDisconnect

from chute_api import metrics
from chute_api.body import idle_limited
from chute_api.errors import (
    ChecksumMismatch,
    EmptyUpload,
    MalformedRequest,
    NotFound,
    OffsetMismatch,
    UploadGone,
    UploadRejected,
    UploadTimeout,
    UploadTooLarge,
)
from chute_api.filenames import sanitize_filename
from chute_api.s3_writer import storable_type
from chute_api.settings import ApiSettings
from chute_api.tus_appender import Appender, delete_tail, remove_bytes
from chute_api.tus_lock import UploadLock, offset_of, refusal
from chute_api.tus_protocol import Checksum
from chute_api.upload_rules import UploadRules
from chute_core.errors import ChuteError, JobNotFound
from chute_core.jobs import (
    Job,
    JobError,
    JobState,
    ObjectInfo,
    ResumableUpload,
    iso,
    new_job,
    new_job_id,
    parse_iso,
    utcnow,
)
from chute_core.keys import ObjectKeys
from chute_core.logs import get_logger
from chute_core.pools import Pools
from chute_core.resumable_jobs import LockConflict, ResumableJobs
from chute_core.tracing import traceparent

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["Creation", "TusUploads"]

log = get_logger(__name__)


@dataclass(frozen=True)
class Creation:
    tenant: str
    length: int | None
    metadata: dict[str, str]
    raw_metadata: str | None
    rules: UploadRules


@dataclass(frozen=True)
class TusUploads:
    jobs: ResumableJobs
    s3: S3Client
    keys: ObjectKeys
    pools: Pools
    bucket: str
    job_ttl: timedelta
    api: ApiSettings

    async def create(self, creation: Creation) -> Job:
        """A RECEIVING job for the upload, due at its expiry."""
        if creation.length == 0:
            raise EmptyUpload("the upload has no content (Upload-Length: 0)")
        creation.rules.check_size(creation.length, what="Upload-Length")
        job_id = new_job_id()
        filetype = creation.metadata.get("filetype") or "application/octet-stream"
        if len(filetype) > 255:
            raise MalformedRequest("the filetype metadata is longer than 255 characters")
        pool = self.pools.route(
            tenant=creation.tenant, processors=creation.rules.processors, content_type=filetype
        )
        job = new_job(
            job_id=job_id,
            tenant=creation.tenant,
            pool=pool.name,
            obj=ObjectInfo(
                bucket=self.bucket,
                key=self.keys.incoming(creation.tenant, job_id, pool.segment),
                size=creation.length,
                content_type=filetype,
                filename=sanitize_filename(creation.metadata.get("filename")),
            ),
            ttl=self.job_ttl,
            state=JobState.RECEIVING,
        )
        job.traceparent = traceparent()
        job.processors = creation.rules.processors
        job.callback_url = creation.rules.callback_url
        job.resumable = ResumableUpload(
            length=creation.length, expires=self._expiry(), metadata=creation.raw_metadata
        )
        await self.jobs.create(job)
        log.info("tus_upload_created", job_id=job_id, tenant=creation.tenant)
        return job

    def _expiry(self) -> str:
        return iso(utcnow() + timedelta(seconds=self.api.tus_expire_seconds))

    async def find(self, job_id: str, *, tenant: str) -> Job:
        """The tenant's tus upload: 404 for none (or a terminated one), 410 once expired."""
        try:
            job = await self.jobs.get(job_id, tenant=tenant)
        except JobNotFound:
            raise NotFound(f"no upload {job_id}") from None
        if job.resumable is None or job.state is JobState.CANCELLED:
            raise NotFound(f"no upload {job_id}")
        if job.state is JobState.FAILED and job.started_at is None:
            code = job.error.code if job.error else "failed"
            raise UploadGone(f"the upload ended unfinished ({code})")
        if job.state is JobState.RECEIVING and parse_iso(job.resumable.expires) < utcnow():
            raise UploadGone(f"the upload expired at {job.resumable.expires}")
        return job

    async def append(
        self,
        job: Job,
        *,
        offset: int,
        length: int | None,
        checksum: Checksum | None,
        chunks: AsyncIterator[bytes],
        rules: UploadRules,
    ) -> Job:
        """Append a PATCH body at `offset` under the upload's lock; the job as it is after."""
        progress = job.resumable
        assert progress is not None
        if job.state is not JobState.RECEIVING or offset != progress.offset:
            raise OffsetMismatch(f"the upload's offset is {offset_of(job)}, not {offset}")
        progress = self._with_length(progress, length, rules)
        lock = UploadLock(self.jobs, job.job_id, lease_seconds=self.api.tus_lock_seconds)
        held = await lock.take(offset)
        try:
            async with lock.renewed():
                return await self._append(held, progress, lock.token, checksum, chunks, rules)
        except LockConflict as lost:  # the lease lapsed mid-request and another took it
            raise refusal(lost.current, offset) from None

    def _with_length(
        self, progress: ResumableUpload, length: int | None, rules: UploadRules
    ) -> ResumableUpload:
        if length is None:
            return progress
        if progress.length is not None and length != progress.length:
            raise MalformedRequest(f"Upload-Length is {progress.length} and cannot change")
        if length < progress.offset:
            raise MalformedRequest(f"Upload-Length {length} is below the offset")
        if length == 0:
            raise EmptyUpload("the upload has no content (Upload-Length: 0)")
        rules.check_size(length, what="Upload-Length")
        return progress.model_copy(update={"length": length})

    async def _append(
        self,
        job: Job,
        progress: ResumableUpload,
        token: str,
        checksum: Checksum | None,
        chunks: AsyncIterator[bytes],
        rules: UploadRules,
    ) -> Job:
        async def commit(step: ResumableUpload) -> None:
            await self.jobs.save(
                job.job_id, token=token, progress=step, lease_seconds=self.api.tus_lock_seconds
            )

        appender = Appender(
            self.s3,
            bucket=self.bucket,
            key=job.object.key,
            tail_key=self.keys.tail(job.tenant, job.job_id, token),
            content_type=storable_type(job.object.content_type or "application/octet-stream"),
            metadata={"job-id": job.job_id, "tenant": job.tenant},
            progress=progress,
            part_bytes=self.api.upload_part_bytes,
            check_head=lambda head: rules.check_content(
                head, declared=job.object.content_type, filename=job.object.filename
            ),
            commit=None if checksum is not None else commit,
        )
        limit = min(progress.length or rules.max_bytes, rules.max_bytes)
        digest = checksum.hasher() if checksum is not None else None
        try:
            await appender.load_tail()
            async for chunk in idle_limited(chunks, self.api.upload_idle_timeout_seconds):
                if appender.offset + len(chunk) > limit:
                    raise UploadTooLarge(f"the body goes past the upload's length {limit}")
                if digest is not None:
                    digest.update(chunk)
                await appender.write(chunk)
            if checksum is not None and digest is not None and digest.digest() != checksum.digest:
                raise ChecksumMismatch(
                    f"the chunk's {checksum.algorithm} does not match Upload-Checksum; "
                    "it was discarded, the offset is unchanged"
                )
            metrics.UPLOAD_BYTES.inc(appender.received)
            if progress.length is not None and appender.offset == progress.length:
                return await self._finish(job, token, appender)
            kept = await appender.keep()
            return await self._save(job, token, progress, kept)
        except (ClientDisconnect, UploadTimeout) as cut:
            # The spec: a server SHOULD keep what it received (not for a checksummed chunk,
            # which can no longer be verified). A client gone hears no answer: none is
            # raised for it (uvicorn would log an error); a silent one gets its 408.
            if checksum is not None:
                await asyncio.shield(appender.discard())
                saved = job
            else:
                kept = await asyncio.shield(appender.keep())
                saved = await asyncio.shield(self._save(job, token, progress, kept))
            log.info("tus_patch_cut_off", job_id=job.job_id, offset=offset_of(saved))
            if isinstance(cut, UploadTimeout):
                raise
            return saved
        except UploadRejected as refused:
            await asyncio.shield(appender.discard())
            if refused.status == 415:
                await asyncio.shield(self._fail(job, refused))
            raise
        except BaseException:
            await asyncio.shield(appender.discard())
            raise

    async def _save(
        self, job: Job, token: str, base: ResumableUpload, kept: ResumableUpload
    ) -> Job:
        saved = await self.jobs.save(
            job.job_id,
            token=token,
            progress=kept,
            lease_seconds=None,
        )
        if base.tail_key is not None and base.tail_key != kept.tail_key:
            await delete_tail(self.s3, self.bucket, base.tail_key)
        return saved

    async def _finish(self, job: Job, token: str, appender: Appender) -> Job:
        done, stored = await appender.complete()
        details = {
            "object": job.object.model_copy(
                update={"size": stored.size, "etag": stored.etag}
            ).model_dump(exclude_none=True),
            "sha256": stored.sha256,
        }
        finished = await self.jobs.finish(job.job_id, token=token, progress=done, details=details)
        if job.resumable is not None and job.resumable.tail_key is not None:
            await delete_tail(self.s3, self.bucket, job.resumable.tail_key)
        log.info("upload_accepted", job_id=job.job_id, tenant=job.tenant, size=stored.size)
        return finished

    async def _fail(self, job: Job, error: UploadRejected) -> None:
        """The content may not be uploaded: the job FAILED, its S3 leftovers gone."""
        with contextlib.suppress(ChuteError):
            await self.jobs.transition(
                job.job_id,
                JobState.FAILED,
                sources={JobState.RECEIVING},
                set_values={"error": JobError.from_exception(error).model_dump()},
                remove=("upload_lock", "upload_lock_until"),
            )
        await remove_bytes(self.s3, self.bucket, job)

    async def terminate(self, job: Job) -> None:
        """DELETE: the unfinished upload is CANCELLED and its bytes removed."""
        if job.state is not JobState.RECEIVING:
            raise OffsetMismatch("the upload is complete: cancel its job instead")
        try:
            current = await self.jobs.transition(
                job.job_id,
                JobState.CANCELLED,
                sources={JobState.RECEIVING},
                set_values={"finished_at": iso(utcnow())},
                remove=("upload_lock", "upload_lock_until"),
            )
        except ChuteError:
            raise OffsetMismatch("the upload completed meanwhile: cancel its job instead") from None
        await remove_bytes(self.s3, self.bucket, current)
