"""Companion's `/s3/*` signing routes at `/v1/s3`: any Uppy application whose
`@uppy/aws-s3` plugin points its `endpoint` at `{api}/v1` uploads straight to S3, and
each file is a chute job (AWAITING_UPLOAD, with the tenant's limits and processors).

The shapes are Companion's (camelCase, a bare list of parts); every answer also carries
the job, as `job_id` in an object body and in the `Chute-Job-Id` header. Uppy sends the
file's meta as `metadata`: `size` (bytes, checked as declared), `processors` (a comma
list) and `callback_url` are read from it; the rest is ignored."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from chute_api.deps import (
    DirectUploadsDep,
    JobQueriesDep,
    ReadTenantDep,
    RulesDep,
    UploadTenantDep,
    aws_available,
)
from chute_api.errors import MalformedRequest
from chute_api.flows.direct import MAX_PARTS, Plan
from chute_api.problems import PROBLEM_RESPONSES
from chute_api.routes.companion_shapes import (
    CompleteMultipart,
    CreateMultipart,
    MultipartAborted,
    MultipartCompleted,
    MultipartCreated,
    SignedBatch,
    SignedPart,
    StoredPart,
    UploadParameters,
)
from chute_api.upload_rules import UploadRules, parse_processor_list
from chute_core.jobs import Job

__all__ = ["router"]

router = APIRouter(prefix="/v1/s3", tags=["browser uploads"], dependencies=[Depends(aws_available)])

JOB_HEADER = "Chute-Job-Id"
_CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")
_ERRORS: dict[int | str, dict[str, Any]] = {
    k: PROBLEM_RESPONSES[k] for k in (400, 401, 403, 404, 409, 429, 503)
}
_CREATE_ERRORS: dict[int | str, dict[str, Any]] = {
    k: PROBLEM_RESPONSES[k] for k in (400, 401, 403, 413, 415, 429, 503)
}
# Short enough that a request line of all three, percent-encoded, fits the server's
# 16 KiB limit on a request head: S3 upload ids run to a few hundred characters, chute's
# keys (incoming/{tenant}/{job_id}) to about 110.
UploadId = Annotated[str, Path(min_length=1, max_length=512)]
Key = Annotated[str, Query(min_length=1, max_length=255)]
PartNumber = Annotated[int, Path(ge=1, le=MAX_PARTS)]


def _text(metadata: Mapping[str, Any], name: str) -> str | None:
    value = metadata.get(name)
    return None if value is None or value == "" else str(value)


async def _plan(
    rules: RulesDep,
    tenant: str,
    *,
    filename: str,
    content_type: str,
    metadata: Mapping[str, Any],
) -> Plan:
    """The upload as presign sees it: the declared type (a browser may not know one:
    octet-stream) and, from the metadata, the size and the processor choice."""
    content_type = content_type or "application/octet-stream"
    if not _matches(content_type):
        raise MalformedRequest(f"type: {content_type!r} is not a media type")
    size_text = _text(metadata, "size")
    if size_text is not None and not (size_text.isdigit() and int(size_text) > 0):
        raise MalformedRequest("metadata.size must be a positive number of bytes")
    limits: UploadRules = await rules.for_upload(
        tenant,
        processors=parse_processor_list(_text(metadata, "processors")),
        callback_url=_text(metadata, "callback_url"),
    )
    return Plan(
        tenant=tenant,
        filename=filename,
        content_type=content_type,
        size=int(size_text) if size_text is not None else None,
        sha256=None,
        rules=limits,
    )


def _matches(content_type: str) -> bool:
    return _CONTENT_TYPE.match(content_type) is not None


def _for_job(response: Response, job: Job) -> str:
    response.headers[JOB_HEADER] = job.job_id
    return job.job_id


@router.get(
    "/params",
    response_model=UploadParameters,
    summary="Create a job and a presigned POST form for one file (Companion's /s3/params)",
    responses=_CREATE_ERRORS,
)
async def params(
    request: Request,
    response: Response,
    direct: DirectUploadsDep,
    rules: RulesDep,
    tenant: UploadTenantDep,
    filename: Annotated[str, Query(min_length=1, max_length=255)],
    type: Annotated[str, Query(max_length=255)] = "",  # Companion's name
) -> UploadParameters:
    metadata = {
        name[len("metadata[") : -1]: value
        for name, value in request.query_params.items()
        if name.startswith("metadata[") and name.endswith("]")
    }
    plan = await _plan(rules, tenant, filename=filename, content_type=type, metadata=metadata)
    made = await direct.presign(plan, mode="post")
    if made.post is None:
        raise RuntimeError("presign made no POST form")
    url, fields = made.post
    return UploadParameters(
        method="POST",
        # Companion's answer: the bucket's URL with a trailing slash; key in the fields.
        url=url if url.endswith("/") else f"{url}/",
        fields=fields,
        expires=direct.api.presign_seconds,
        job_id=_for_job(response, made.job),
    )


@router.post(
    "/multipart",
    response_model=MultipartCreated,
    summary="Create a job and its S3 multipart upload (Companion's POST /s3/multipart)",
    responses=_CREATE_ERRORS,
)
async def create_multipart(
    body: CreateMultipart,
    response: Response,
    direct: DirectUploadsDep,
    rules: RulesDep,
    tenant: UploadTenantDep,
) -> MultipartCreated:
    plan = await _plan(
        rules, tenant, filename=body.filename, content_type=body.type, metadata=body.metadata
    )
    made = await direct.presign(plan, mode="multipart")
    if made.upload_id is None:
        raise RuntimeError("presign made no multipart upload")
    return MultipartCreated(
        key=made.job.object.key,
        upload_id=made.upload_id,
        job_id=_for_job(response, made.job),
    )


@router.get(
    "/multipart/{upload_id}",
    response_model=list[StoredPart],
    summary="The parts S3 holds for an upload, to resume it (Companion's list parts)",
    responses=_ERRORS,
)
async def list_parts(
    upload_id: UploadId,
    key: Key,
    response: Response,
    direct: DirectUploadsDep,
    tenant: ReadTenantDep,
) -> list[StoredPart]:
    job = await direct.upload_for(key, upload_id, tenant=tenant)
    _for_job(response, job)
    return [
        StoredPart(PartNumber=p.number, Size=p.size, ETag=p.etag)
        for p in await direct.stored_parts(job)
    ]


@router.get(
    "/multipart/{upload_id}/batch",
    response_model=SignedBatch,
    summary="Presigned URLs for several parts (Companion's batch signing)",
    responses=_ERRORS,
)
async def sign_parts(
    upload_id: UploadId,
    key: Key,
    response: Response,
    direct: DirectUploadsDep,
    tenant: ReadTenantDep,
    part_numbers: Annotated[str, Query(alias="partNumbers", min_length=1, max_length=1000)],
) -> SignedBatch:
    numbers = [n.strip() for n in part_numbers.split(",")]
    if not all(n.isdigit() and 1 <= int(n) <= MAX_PARTS for n in numbers):
        raise MalformedRequest(f"partNumbers must be a comma list of 1 to {MAX_PARTS}")
    job = await direct.upload_for(key, upload_id, tenant=tenant)
    urls = {str(int(n)): await direct.sign_part(job, int(n)) for n in numbers}
    return SignedBatch(presigned_urls=urls, job_id=_for_job(response, job))


@router.get(
    "/multipart/{upload_id}/{part_number}",
    response_model=SignedPart,
    summary="A presigned URL for one part (Companion's part signing)",
    responses=_ERRORS,
)
async def sign_part(
    upload_id: UploadId,
    part_number: PartNumber,
    key: Key,
    response: Response,
    direct: DirectUploadsDep,
    tenant: ReadTenantDep,
) -> SignedPart:
    job = await direct.upload_for(key, upload_id, tenant=tenant)
    url = await direct.sign_part(job, part_number)
    return SignedPart(url=url, expires=direct.api.presign_seconds, job_id=_for_job(response, job))


@router.post(
    "/multipart/{upload_id}/complete",
    response_model=MultipartCompleted,
    summary="Join the parts; the S3 event then queues the job (Companion's complete)",
    responses={**_ERRORS, 413: PROBLEM_RESPONSES[413]},
)
async def complete_multipart(
    upload_id: UploadId,
    key: Key,
    body: CompleteMultipart,
    response: Response,
    direct: DirectUploadsDep,
    rules: RulesDep,
    tenant: UploadTenantDep,
) -> MultipartCompleted:
    job = await direct.upload_for(key, upload_id, tenant=tenant)
    limits = await rules.for_upload(tenant, processors=None, callback_url=None)
    parts = [(p.PartNumber, p.ETag) for p in body.parts]
    done = await direct.complete(job.job_id, tenant=tenant, parts=parts, max_bytes=limits.max_bytes)
    return MultipartCompleted(
        location=direct.location(done.object.key),
        key=done.object.key,
        job_id=_for_job(response, done),
        state=done.state,
    )


@router.delete(
    "/multipart/{upload_id}",
    response_model=MultipartAborted,
    summary="Abort the upload and cancel its job (Companion's abort)",
    responses=_ERRORS,
)
async def abort_multipart(
    upload_id: UploadId,
    key: Key,
    response: Response,
    direct: DirectUploadsDep,
    queries: JobQueriesDep,
    tenant: ReadTenantDep,
) -> MultipartAborted:
    job = await direct.upload_for(key, upload_id, tenant=tenant)
    await direct.abort(job)
    cancelled = await queries.cancel(job.job_id, tenant=tenant)
    return MultipartAborted(job_id=_for_job(response, cancelled), state=cancelled.state)
