"""tus uploads: a job RECEIVING while its bytes arrive in any number of PATCHes, on any
replica, then QUEUED with its SHA-256 like every other upload.

The job record is the upload's state (`ResumableUpload`: offset, parts, tail, hash
state, expiry) and its lock (`ResumableJobs`); S3 holds the bytes (`tus_appender.py`).
Nothing is kept on the replica between requests. An unfinished upload expires
`tus_expire_seconds` after its creation (at most a day: the bucket's lifecycle rule
aborts a multipart upload a day after it starts, whatever its activity): the worker's
deadline check (the same delayed message as a presigned upload's) then fails the job
`upload_expired`, aborts its multipart upload and deletes its tail.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
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
    UploadLocked,
    UploadRejected,
    UploadTimeout,
    UploadTooLarge,
)
from chute_api.filenames import sanitize_filename
from chute_api.s3_writer import storable_type
from chute_api.settings import ApiSettings
from chute_api.tus_appender import Appender
from chute_api.tus_protocol import Checksum
from chute_api.upload_rules import UploadRules
from chute_core.aws import QueueUrls, error_code
from chute_core.content_types import detect_type, refine_type
from chute_core.errors import ChuteError, JobNotFound
from chute_core.events import deadline_message
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
from chute_core.resumable_jobs import LockConflict, ResumableJobs
from chute_core.tracing import traceparent

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_sqs import SQSClient

__all__ = ["Creation", "TusUploads", "offset_of"]

log = get_logger(__name__)
SQS_MAX_DELAY_SECONDS = 900
LOCK_POLL_SECONDS = 0.2  # how often a PATCH waiting for the lock looks again


@dataclass(frozen=True)
class Creation:
    tenant: str
    length: int | None
    metadata: dict[str, str]
    raw_metadata: str | None
    rules: UploadRules


def offset_of(job: Job) -> int:
    """What HEAD reports: a job past RECEIVING holds its whole object."""
    assert job.resumable is not None
    if job.state is JobState.RECEIVING or job.resumable.length is None:
        return job.resumable.offset
    return job.resumable.length


@dataclass(frozen=True)
class TusUploads:
    jobs: ResumableJobs
    s3: S3Client
    sqs: SQSClient
    queues: QueueUrls
    keys: ObjectKeys
    bucket: str
    queue: str
    job_ttl: timedelta
    api: ApiSettings

    @property
    def lock_seconds(self) -> float:
        return self.api.tus_lock_seconds

    async def create(self, creation: Creation) -> Job:
        """A RECEIVING job for the upload, and its expiry check scheduled."""
        if creation.length == 0:
            raise EmptyUpload("the upload has no content (Upload-Length: 0)")
        creation.rules.check_size(creation.length, what="Upload-Length")
        job_id = new_job_id()
        filetype = creation.metadata.get("filetype") or "application/octet-stream"
        if len(filetype) > 255:
            raise MalformedRequest("the filetype metadata is longer than 255 characters")
        job = new_job(
            job_id=job_id,
            tenant=creation.tenant,
            obj=ObjectInfo(
                bucket=self.bucket,
                key=self.keys.incoming(creation.tenant, job_id),
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
        await self.sqs.send_message(
            QueueUrl=await self.queues.url(self.queue),
            MessageBody=deadline_message(job_id, creation.tenant),
            DelaySeconds=min(SQS_MAX_DELAY_SECONDS, self.api.tus_expire_seconds),
        )
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
        token = uuid.uuid4().hex
        held = await self._hold(job.job_id, token, offset)
        try:
            async with self._renewing(job.job_id, token):
                return await self._append(held, progress, token, checksum, chunks, rules)
        except LockConflict as lost:  # the lease lapsed mid-request and another took it
            raise self._refusal(lost.current, offset) from None

    async def _hold(self, job_id: str, token: str, offset: int) -> Job:
        """Take the lock, waiting while another request holds it (as tusd does): until
        it is released (then that request moved the offset: 409) or its lease lapses (a
        replica died mid-PATCH), at most one lease. A client without `Expect:
        100-continue` would otherwise send its whole chunk for each 423."""
        deadline = time.monotonic() + self.lock_seconds
        while True:
            try:
                return await self.jobs.hold(
                    job_id, token=token, offset=offset, lease_seconds=self.lock_seconds
                )
            except LockConflict as conflict:
                refusal = self._refusal(conflict.current, offset)
                if not isinstance(refusal, UploadLocked) or time.monotonic() > deadline:
                    raise refusal from None
            await asyncio.sleep(LOCK_POLL_SECONDS)

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

    def _refusal(self, current: Job | None, offset: int) -> ChuteError:
        if current is None or current.resumable is None:
            return NotFound("no such upload")
        if current.state is JobState.RECEIVING and current.resumable.offset == offset:
            until = current.upload_lock_until
            left = (parse_iso(until) - utcnow()).total_seconds() if until else 1.0
            return UploadLocked(max(1, math.ceil(left)))
        return OffsetMismatch(f"the upload's offset is {offset_of(current)}, not {offset}")

    @contextlib.asynccontextmanager
    async def _renewing(self, job_id: str, token: str) -> AsyncIterator[None]:
        """Renew the lock while the body streams; the lock is released on the way out
        unless the request's last write released it already."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(self.lock_seconds / 3)
                await self.jobs.renew(job_id, token=token, lease_seconds=self.lock_seconds)

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await asyncio.shield(self.jobs.release(job_id, token=token))

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
                job.job_id, token=token, progress=step, lease_seconds=self.lock_seconds
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
            check_head=lambda head: _check_type(rules, job, head),
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
            await self._delete_tail(base.tail_key)
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
            await self._delete_tail(job.resumable.tail_key)
        log.info("upload_accepted", job_id=job.job_id, tenant=job.tenant, size=stored.size)
        return finished

    async def _delete_tail(self, key: str) -> None:
        try:
            await self.s3.delete_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:  # the lifecycle rule on the partial prefix is the backstop
            log.warning("tus_tail_not_deleted", key=key, error=error_code(exc))

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
        await self.remove_leftovers(job)

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
        await self.remove_leftovers(current)

    async def remove_leftovers(self, job: Job) -> None:
        progress = job.resumable
        if progress is None:
            return
        if progress.upload_id is not None:
            with contextlib.suppress(ClientError):
                await self.s3.abort_multipart_upload(
                    Bucket=self.bucket, Key=job.object.key, UploadId=progress.upload_id
                )
        if progress.tail_key is not None:
            await self._delete_tail(progress.tail_key)


def _check_type(rules: UploadRules, job: Job, head: bytes) -> None:
    if rules.content_types is None:
        return
    detected = refine_type(detect_type(head), job.object.content_type, job.object.filename)
    rules.check_type(detected, detected=True)
