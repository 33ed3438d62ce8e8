"""Direct-to-S3 uploads for large files: the API creates the job (AWAITING_UPLOAD) and
hands out presigned requests; the client's bytes never pass through the API. The S3
event then drives the worker as for any upload. An upload not finished by its deadline
expires (FAILED `upload_expired`): the job's deadline is the upload's, and the
reconciler (`chute reconcile`) ends it once overdue.

The same jobs serve Companion-style clients (routes/companion.py): they may leave the
size undeclared, sign parts one at a time, list the parts S3 holds (to resume) and
abort. Such a client names its upload by key and upload id, and the key carries the
job: `upload_for` finds it, for its own tenant only."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote, urlsplit

from botocore.exceptions import ClientError

from chute_api.errors import BadUpload, JobStateConflict, UploadTooLarge
from chute_api.filenames import sanitize_filename
from chute_api.settings import ApiSettings
from chute_api.upload_rules import UploadRules
from chute_core.aws import error_code
from chute_core.errors import JobNotFound, PoisonMessage
from chute_core.job_store import JobStore
from chute_core.jobs import (
    DirectUpload,
    Job,
    JobState,
    ObjectInfo,
    iso,
    new_job,
    new_job_id,
    utcnow,
)
from chute_core.keys import ObjectKeys
from chute_core.pools import Pools

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["MAX_PARTS", "DirectUploads", "Plan", "Presigned", "StoredPart"]

MAX_PARTS = 10_000
_REFUSED_PARTS = ("InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload")


@dataclass(frozen=True)
class Plan:
    """What the client declared about the file it will upload."""

    tenant: str
    filename: str
    content_type: str
    size: int | None  # None: undeclared; the tenant's limit bounds it instead
    sha256: str | None
    rules: UploadRules


@dataclass
class Presigned:
    """The job and the requests that upload its file: one POST form, or parts."""

    job: Job
    deadline: str
    post: tuple[str, dict[str, str]] | None = None  # the form's URL and fields
    part_size: int | None = None
    part_urls: list[str] | None = None
    upload_id: str | None = None  # the S3 multipart upload's


@dataclass(frozen=True)
class StoredPart:
    number: int
    size: int
    etag: str


def _upload_id(job: Job) -> str:
    if job.direct_upload is None or job.direct_upload.upload_id is None:
        raise BadUpload(f"job {job.job_id} was not created as a presigned multipart upload")
    return job.direct_upload.upload_id


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


@dataclass(frozen=True)
class DirectUploads:
    jobs: JobStore
    s3: S3Client
    keys: ObjectKeys
    pools: Pools
    bucket: str
    job_ttl: timedelta
    api: ApiSettings

    async def presign(
        self, plan: Plan, *, mode: Literal["post", "multipart"] | None = None
    ) -> Presigned:
        """Create the job (due at the upload's deadline) and its presigned requests.
        `mode` None picks by the declared size; part URLs are signed only for a declared
        size (a Companion-style client asks for them one by one)."""
        plan.rules.check_size(plan.size)
        plan.rules.check_type(plan.content_type, detected=False)
        api, tenant = self.api, plan.tenant
        pool = self.pools.route(
            tenant=tenant, processors=plan.rules.processors, content_type=plan.content_type
        )
        job_id = new_job_id()
        key = self.keys.incoming(tenant, job_id, pool.segment)
        deadline = iso(utcnow() + timedelta(seconds=api.presign_seconds))
        job = new_job(
            job_id=job_id,
            tenant=tenant,
            obj=ObjectInfo(
                bucket=self.bucket,
                key=key,
                size=plan.size,
                content_type=plan.content_type,
                filename=sanitize_filename(plan.filename),
            ),
            ttl=self.job_ttl,
            state=JobState.AWAITING_UPLOAD,
            pool=pool.name,
        )
        job.processors, job.callback_url = plan.rules.processors, plan.rules.callback_url
        answer = Presigned(job=job, deadline=deadline)
        if mode is None:
            mode = "post" if (plan.size or 0) <= api.presign_post_max_bytes else "multipart"
        if mode == "post":
            await self._post_form(plan, answer)
        else:
            await self._multipart(plan, answer)
        await self.jobs.create(job)
        return answer

    async def _post_form(self, plan: Plan, answer: Presigned) -> None:
        job = answer.job
        metadata = {"x-amz-meta-job-id": job.job_id, "x-amz-meta-tenant": plan.tenant}
        fields = {"Content-Type": plan.content_type, **metadata}
        largest = min(plan.rules.max_bytes, self.api.presign_post_max_bytes)
        if plan.size is not None and plan.size > self.api.presign_post_max_bytes:
            raise BadUpload(
                f"one POST takes at most {self.api.presign_post_max_bytes} bytes: use multipart"
            )
        conditions: list[object] = [
            ["content-length-range", plan.size or 1, plan.size or largest],
            {"Content-Type": plan.content_type},
            *({k: v} for k, v in metadata.items()),
        ]
        if plan.sha256:
            fields["x-amz-checksum-algorithm"] = "SHA256"
            fields["x-amz-checksum-sha256"] = _b64(plan.sha256)
            conditions += [{"x-amz-checksum-algorithm": "SHA256"}]
            conditions += [{"x-amz-checksum-sha256": fields["x-amz-checksum-sha256"]}]
        post = await self.s3.generate_presigned_post(
            Bucket=self.bucket,
            Key=job.object.key,
            Fields=fields,
            Conditions=conditions,
            ExpiresIn=self.api.presign_seconds,
        )
        answer.post = (post["url"], post["fields"])
        job.direct_upload = DirectUpload(
            mode="post", declared_size=plan.size, deadline=answer.deadline
        )

    async def _multipart(self, plan: Plan, answer: Presigned) -> None:
        job, key = answer.job, answer.job.object.key
        part_size = max(self.api.presign_part_bytes, math.ceil((plan.size or 0) / MAX_PARTS))
        created = await self.s3.create_multipart_upload(
            Bucket=self.bucket,
            Key=key,
            ContentType=plan.content_type,
            Metadata={"job-id": job.job_id, "tenant": plan.tenant},
        )
        upload_id = answer.upload_id = created["UploadId"]
        job.direct_upload = DirectUpload(
            mode="multipart",
            declared_size=plan.size,
            deadline=answer.deadline,
            upload_id=upload_id,
            part_size=part_size,
        )
        if plan.size is None:
            return
        answer.part_size = part_size
        answer.part_urls = [
            await self.sign_part(job, n) for n in range(1, math.ceil(plan.size / part_size) + 1)
        ]

    async def upload_for(self, key: str, upload_id: str, *, tenant: str) -> Job:
        """The job of a multipart upload named by key and upload id; 404 for a key of
        another tenant, an unknown job or another upload id."""
        try:
            owner, job_id = self.keys.parse_incoming(key)
        except PoisonMessage:
            raise JobNotFound(key) from None
        if owner != tenant:
            raise JobNotFound(key)
        job = await self.jobs.get(job_id, tenant=tenant)
        direct = job.direct_upload
        if direct is None or direct.upload_id != upload_id or job.object.key != key:
            raise JobNotFound(key)
        return job

    async def sign_part(self, job: Job, number: int) -> str:
        self._awaiting(job)
        return await self.s3.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": self.bucket,
                "Key": job.object.key,
                "UploadId": _upload_id(job),
                "PartNumber": number,
            },
            ExpiresIn=self.api.presign_seconds,
        )

    async def stored_parts(self, job: Job) -> list[StoredPart]:
        """The parts S3 holds for the job's multipart upload, in order: what a client
        resuming after a reload need not send again."""
        parts: list[StoredPart] = []
        marker = 0
        while True:
            try:
                page = await self.s3.list_parts(
                    Bucket=self.bucket,
                    Key=job.object.key,
                    UploadId=_upload_id(job),
                    PartNumberMarker=marker,
                )
            except ClientError as exc:
                if error_code(exc) == "NoSuchUpload":
                    raise JobStateConflict(
                        "upload-finished", f"job {job.job_id} has no open upload"
                    ) from None
                raise
            parts += [
                StoredPart(number=p["PartNumber"], size=p["Size"], etag=p["ETag"])
                for p in page.get("Parts", [])
            ]
            if not page.get("IsTruncated"):
                return parts
            marker = int(page["NextPartNumberMarker"])

    async def abort(self, job: Job) -> None:
        """Abort the job's multipart upload (its parts go at once, not at the lifecycle
        rule's day); the caller cancels the job."""
        try:
            await self.s3.abort_multipart_upload(
                Bucket=self.bucket, Key=job.object.key, UploadId=_upload_id(job)
            )
        except ClientError as exc:
            if error_code(exc) != "NoSuchUpload":
                raise

    async def browser_origins(self) -> list[str]:
        """The origins a browser reaches S3 at for this bucket: where forms are posted,
        parts put and results read (a page's Content-Security-Policy allows these)."""
        post = await self.s3.generate_presigned_post(Bucket=self.bucket, Key="probe")
        get = await self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": "probe"}
        )
        return sorted({_origin(post["url"]), _origin(get)})

    def location(self, key: str) -> str:
        """The object's URL (path style), as S3 names it in a Location header."""
        return f"{self.s3.meta.endpoint_url}/{self.bucket}/{quote(key)}"

    @staticmethod
    def _awaiting(job: Job) -> None:
        if job.state is not JobState.AWAITING_UPLOAD:
            detail = f"job {job.job_id} is {job.state}, not awaiting its upload"
            raise JobStateConflict("job-not-awaiting-upload", detail)

    async def complete(
        self,
        job_id: str,
        *,
        tenant: str,
        parts: list[tuple[int, str]],
        max_bytes: int | None = None,
    ) -> Job:
        """Finish a presigned multipart upload with its (part number, ETag) pairs. An
        undeclared size is checked here against `max_bytes`: too large, and the upload
        is aborted (413) before S3 joins the parts."""
        job = await self.jobs.get(job_id, tenant=tenant)
        direct = job.direct_upload
        if direct is None or direct.mode != "multipart" or direct.upload_id is None:
            raise BadUpload("this job was not created as a presigned multipart upload")
        if job.state is not JobState.AWAITING_UPLOAD:
            raise BadUpload(f"job {job_id} is {job.state}, not awaiting its upload")
        if direct.declared_size is None and max_bytes is not None:
            named = {n for n, _ in parts}
            size = sum(p.size for p in await self.stored_parts(job) if p.number in named)
            if size > max_bytes:
                await self.abort(job)
                raise UploadTooLarge(f"size {size} exceeds the limit of {max_bytes} bytes")
        try:
            await self.s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=job.object.key,
                UploadId=direct.upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": n, "ETag": etag} for n, etag in sorted(parts)]
                },
            )
        except ClientError as exc:
            if error_code(exc) in _REFUSED_PARTS:
                raise BadUpload(f"S3 refused the parts: {error_code(exc)}") from None
            raise
        return await self.jobs.get(job_id, tenant=tenant)
