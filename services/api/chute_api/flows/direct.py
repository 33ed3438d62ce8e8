"""Direct-to-S3 uploads for large files: the API creates the job (AWAITING_UPLOAD) and
hands out presigned requests; the client's bytes never pass through the API. The S3
event then drives the worker as for any upload. An upload not finished by its deadline
expires (FAILED `upload_expired`), by a delayed message the worker acts on."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from chute_api.errors import BadUpload
from chute_api.filenames import sanitize_filename
from chute_api.settings import ApiSettings
from chute_api.upload_rules import UploadRules
from chute_core.aws import QueueUrls, error_code
from chute_core.events import deadline_message
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

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_sqs import SQSClient

__all__ = ["MAX_PARTS", "DirectUploads", "Plan", "Presigned"]

MAX_PARTS = 10_000
SQS_MAX_DELAY_SECONDS = 900
_REFUSED_PARTS = ("InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload")


@dataclass(frozen=True)
class Plan:
    """What the client declared about the file it will upload."""

    tenant: str
    filename: str
    content_type: str
    size: int
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


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


@dataclass(frozen=True)
class DirectUploads:
    jobs: JobStore
    s3: S3Client
    sqs: SQSClient
    queues: QueueUrls
    keys: ObjectKeys
    bucket: str
    queue: str
    job_ttl: timedelta
    api: ApiSettings

    async def presign(self, plan: Plan) -> Presigned:
        """Create the job and its presigned requests, and schedule its deadline check."""
        plan.rules.check_size(plan.size)
        plan.rules.check_type(plan.content_type, detected=False)
        api, tenant = self.api, plan.tenant
        job_id = new_job_id()
        key = self.keys.incoming(tenant, job_id)
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
        )
        job.processors, job.callback_url = plan.rules.processors, plan.rules.callback_url
        answer = Presigned(job=job, deadline=deadline)
        if plan.size <= api.presign_post_max_bytes:
            await self._post_form(plan, answer)
        else:
            await self._multipart(plan, answer)
        await self.jobs.create(job)
        # The deadline check: SQS delays at most 15 minutes; the worker waits out the rest.
        await self.sqs.send_message(
            QueueUrl=await self.queues.url(self.queue),
            MessageBody=deadline_message(job_id, tenant),
            DelaySeconds=min(SQS_MAX_DELAY_SECONDS, api.presign_seconds),
        )
        return answer

    async def _post_form(self, plan: Plan, answer: Presigned) -> None:
        job = answer.job
        metadata = {"x-amz-meta-job-id": job.job_id, "x-amz-meta-tenant": plan.tenant}
        fields = {"Content-Type": plan.content_type, **metadata}
        conditions: list[object] = [
            ["content-length-range", plan.size, plan.size],
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
        part_size = max(self.api.presign_part_bytes, math.ceil(plan.size / MAX_PARTS))
        created = await self.s3.create_multipart_upload(
            Bucket=self.bucket,
            Key=key,
            ContentType=plan.content_type,
            Metadata={"job-id": job.job_id, "tenant": plan.tenant},
        )
        upload_id = created["UploadId"]
        job.direct_upload = DirectUpload(
            mode="multipart",
            declared_size=plan.size,
            deadline=answer.deadline,
            upload_id=upload_id,
            part_size=part_size,
        )
        answer.part_size = part_size
        answer.part_urls = [
            await self.s3.generate_presigned_url(
                "upload_part",
                Params={"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": n},
                ExpiresIn=self.api.presign_seconds,
            )
            for n in range(1, math.ceil(plan.size / part_size) + 1)
        ]

    async def complete(self, job_id: str, *, tenant: str, parts: list[tuple[int, str]]) -> Job:
        """Finish a presigned multipart upload with its (part number, ETag) pairs."""
        job = await self.jobs.get(job_id, tenant=tenant)
        direct = job.direct_upload
        if direct is None or direct.mode != "multipart" or direct.upload_id is None:
            raise BadUpload("this job was not created as a presigned multipart upload")
        if job.state is not JobState.AWAITING_UPLOAD:
            raise BadUpload(f"job {job_id} is {job.state}, not awaiting its upload")
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
