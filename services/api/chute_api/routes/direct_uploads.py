"""Direct-to-S3 uploads for large files: the API creates the job (AWAITING_UPLOAD) and
hands out presigned requests; the client's bytes never pass through the API. The S3
event then drives the worker as for any upload. An upload not finished by its deadline
expires (FAILED `upload_expired`), by a delayed message the worker acts on."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from chute_api.deps import Runtime, RuntimeDep, UploadTenantDep
from chute_api.errors import BadUpload, UnsupportedUploadType, UploadTooLarge
from chute_api.filenames import sanitize_filename
from chute_api.idempotency import MAX_KEY_LENGTH, Replay, fingerprint
from chute_api.problems import PROBLEM_RESPONSES
from chute_api.routes.jobs import status_url
from chute_api.routes.uploads import check_callback, chosen_processors
from chute_core.content_types import matches
from chute_core.events import deadline_message
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

__all__ = ["router"]

router = APIRouter(prefix="/v1/uploads", tags=["uploads"])
MAX_PARTS = 10_000
SQS_MAX_DELAY_SECONDS = 900


class PresignRequest(BaseModel):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(max_length=255, pattern=r"^[\w.+-]+/[\w.+-]+$")
    size: int = Field(ge=1, description="Exact size in bytes; S3 refuses any other")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    processors: list[str] | None = Field(default=None, min_length=1, max_length=20)
    callback_url: str | None = Field(default=None, max_length=2000)


class PresignedPost(BaseModel):
    url: str
    fields: dict[str, str]


class PresignedPart(BaseModel):
    part_number: int
    url: str


class PresignedUpload(BaseModel):
    job_id: str
    state: JobState
    status_url: str
    expires_at: str
    method: Literal["POST", "PUT"]
    post: PresignedPost | None = None
    part_size: int | None = None
    parts: list[PresignedPart] | None = None
    complete_url: str | None = None


class CompletedPart(BaseModel):
    part_number: int = Field(ge=1, le=MAX_PARTS)
    etag: str = Field(min_length=1, max_length=200)


class CompleteRequest(BaseModel):
    parts: list[CompletedPart] = Field(min_length=1, max_length=MAX_PARTS)


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


@router.post(
    "/presign",
    status_code=201,
    response_model=PresignedUpload,
    response_model_exclude_none=True,
    summary="Create a job and presigned requests to upload its file straight to S3",
    responses={k: PROBLEM_RESPONSES[k] for k in (400, 401, 403, 409, 413, 415, 429, 503)},
)
async def presign(
    body: PresignRequest,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    tenant: UploadTenantDep,
    idempotency_key: str | None = Header(
        default=None,
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=r"^[\x21-\x7e]+$",
        description="Retry-safe key (24 h), as on POST /v1/uploads",
    ),
) -> PresignedUpload | Response:
    reservation = None
    if idempotency_key is not None:
        body_hash = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
        outcome = await runtime.idempotency.begin(
            tenant,
            idempotency_key,
            fingerprint("POST", request.url.path, {"body": body_hash}, {"content-type": "json"}),
        )
        if isinstance(outcome, Replay):
            return JSONResponse(
                outcome.body,
                status_code=outcome.status,
                headers={**outcome.headers, "Idempotent-Replayed": "true"},
            )
        reservation = outcome
    try:
        answer = await _presign(body, request, runtime, tenant)
    except BaseException:
        if reservation is not None:
            await asyncio.shield(runtime.idempotency.release(reservation))
        raise
    response.headers["Location"] = answer.status_url
    if reservation is not None:
        await runtime.idempotency.finish(
            reservation,
            status=201,
            body=answer.model_dump(mode="json", exclude_none=True),
            headers={"Location": answer.status_url},
            body_sha256=None,
        )
    return answer


async def _presign(
    body: PresignRequest, request: Request, runtime: Runtime, tenant: str
) -> PresignedUpload:
    policy = runtime.tenants.policy(tenant)
    processors = chosen_processors(
        ",".join(body.processors) if body.processors else None,
        policy.processors or runtime.api.upload_processors,
    )
    max_bytes = min(runtime.api.max_upload_bytes, policy.max_upload_bytes or 2**63)
    if body.size > max_bytes:
        raise UploadTooLarge(f"size {body.size} exceeds the limit of {max_bytes} bytes")
    if policy.content_types is not None and not matches(body.content_type, policy.content_types):
        raise UnsupportedUploadType(f"{body.content_type} is not allowed for this tenant")
    if body.callback_url is not None:
        await check_callback(body.callback_url, runtime.webhooks)
    api = runtime.api
    job_id = new_job_id()
    key = runtime.keys.incoming(tenant, job_id)
    bucket = runtime.pipeline.bucket
    deadline = utcnow() + timedelta(seconds=api.presign_seconds)
    use_post = body.size <= api.presign_post_max_bytes
    metadata = {"x-amz-meta-job-id": job_id, "x-amz-meta-tenant": tenant}
    job = new_job(
        job_id=job_id,
        tenant=tenant,
        obj=ObjectInfo(
            bucket=bucket,
            key=key,
            size=body.size,
            content_type=body.content_type,
            filename=sanitize_filename(body.filename),
        ),
        ttl=timedelta(days=runtime.pipeline.job_ttl_days),
        state=JobState.AWAITING_UPLOAD,
    )
    job.processors, job.callback_url = processors, body.callback_url
    answer = PresignedUpload(
        job_id=job_id,
        state=job.state,
        status_url=status_url(request, job_id),
        expires_at=iso(deadline),
        method="POST" if use_post else "PUT",
    )
    if use_post:
        fields = {"Content-Type": body.content_type, **metadata}
        conditions: list[object] = [
            ["content-length-range", body.size, body.size],
            {"Content-Type": body.content_type},
            *({k: v} for k, v in metadata.items()),
        ]
        if body.sha256:
            fields["x-amz-checksum-algorithm"] = "SHA256"
            fields["x-amz-checksum-sha256"] = _b64(body.sha256)
            conditions += [{"x-amz-checksum-algorithm": "SHA256"}]
            conditions += [{"x-amz-checksum-sha256": fields["x-amz-checksum-sha256"]}]
        post = await runtime.s3.generate_presigned_post(
            Bucket=bucket,
            Key=key,
            Fields=fields,
            Conditions=conditions,
            ExpiresIn=api.presign_seconds,
        )
        answer.post = PresignedPost(url=post["url"], fields=post["fields"])
        job.direct_upload = DirectUpload(
            mode="post", declared_size=body.size, deadline=iso(deadline)
        )
        await runtime.jobs.create(job)
    else:
        part_size = max(api.presign_part_bytes, math.ceil(body.size / MAX_PARTS))
        created = await runtime.s3.create_multipart_upload(
            Bucket=bucket,
            Key=key,
            ContentType=body.content_type,
            Metadata={"job-id": job_id, "tenant": tenant},
        )
        upload_id = created["UploadId"]
        job.direct_upload = DirectUpload(
            mode="multipart",
            declared_size=body.size,
            deadline=iso(deadline),
            upload_id=upload_id,
            part_size=part_size,
        )
        await runtime.jobs.create(job)
        answer.part_size = part_size
        answer.parts = [
            PresignedPart(
                part_number=n,
                url=await runtime.s3.generate_presigned_url(
                    "upload_part",
                    Params={"Bucket": bucket, "Key": key, "UploadId": upload_id, "PartNumber": n},
                    ExpiresIn=api.presign_seconds,
                ),
            )
            for n in range(1, math.ceil(body.size / part_size) + 1)
        ]
        answer.complete_url = str(request.url_for("complete_upload", job_id=job_id))
    # The deadline check: SQS delays at most 15 minutes; the worker waits out the rest.
    queue_url = (
        runtime.queue_url
        or (await runtime.sqs.get_queue_url(QueueName=runtime.pipeline.queue))["QueueUrl"]
    )
    await runtime.sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=deadline_message(job_id, tenant),
        DelaySeconds=min(SQS_MAX_DELAY_SECONDS, api.presign_seconds),
    )
    return answer


@router.post(
    "/{job_id}/complete",
    status_code=202,
    response_model=Job,
    response_model_exclude_none=True,
    summary="Finish a presigned multipart upload with its parts' ETags",
    responses={k: PROBLEM_RESPONSES[k] for k in (400, 401, 403, 404, 409, 429, 503)},
    name="complete_upload",
)
async def complete(
    body: CompleteRequest,
    runtime: RuntimeDep,
    tenant: UploadTenantDep,
    job_id: str = Path(max_length=64),
) -> Job:
    job = await runtime.jobs.get(job_id, tenant=tenant)
    direct = job.direct_upload
    if direct is None or direct.mode != "multipart" or direct.upload_id is None:
        raise BadUpload("this job was not created as a presigned multipart upload")
    if job.state is not JobState.AWAITING_UPLOAD:
        raise BadUpload(f"job {job_id} is {job.state}, not awaiting its upload")
    from botocore.exceptions import ClientError

    try:
        await runtime.s3.complete_multipart_upload(
            Bucket=runtime.pipeline.bucket,
            Key=job.object.key,
            UploadId=direct.upload_id,
            MultipartUpload={
                "Parts": [
                    {"PartNumber": p.part_number, "ETag": p.etag}
                    for p in sorted(body.parts, key=lambda p: p.part_number)
                ]
            },
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload"):
            raise BadUpload(f"S3 refused the parts: {code}") from None
        raise
    return await runtime.jobs.get(job_id, tenant=tenant)
