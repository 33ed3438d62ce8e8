"""tus 1.0.0 at /v1/tus/ (the creation URL) and /v1/tus/{upload_id} (an upload; its id
is the job's): core, creation, creation-with-upload, creation-defer-length, expiration,
checksum and termination. The protocol's headers are parsed in `tus_protocol.py`, the
work done in `flows/tus.py`."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from chute_api.body import declared_length
from chute_api.deps import (
    ReadTenantDep,
    RulesDep,
    SettingsDep,
    TusUploadsDep,
    UploadBudgetDep,
    UploadTenantDep,
    aws_available,
)
from chute_api.errors import NotAnOffsetStream
from chute_api.flows.tus import Creation
from chute_api.problems import PROBLEM_RESPONSES
from chute_api.tus_lock import offset_of
from chute_api.tus_protocol import (
    CHECKSUMS,
    EXTENSIONS,
    OFFSET_STREAM,
    PREFIX,
    TUS_VERSION,
    http_date,
    parse_checksum,
    parse_length,
    parse_metadata,
    parse_offset,
    require_version,
)
from chute_api.upload_budget import upload_reservation
from chute_api.upload_rules import UploadRules, parse_processor_list
from chute_core.jobs import Job

__all__ = ["router"]


# OPTIONS is tus's discovery request: unauthenticated, as in tusd (and a browser's CORS
# preflight carries no credentials either); it tells nothing about any tenant. Every
# other route authenticates first, then checks Tus-Resumable (412).
router = APIRouter(prefix=PREFIX, tags=["tus"], dependencies=[Depends(aws_available)])
UploadId = Path(max_length=64, description="The upload's id: its job's id")


def _header(name: str, description: str, *, required: bool = False) -> dict[str, object]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string"},
    }


# The tus headers each operation reads, for the OpenAPI document (tus_protocol.py parses
# them: one place decides what is valid).
_VERSION = _header("Tus-Resumable", "1.0.0", required=True)
_LENGTH = _header("Upload-Length", "The file's size in bytes")
_DEFER = _header("Upload-Defer-Length", "1: the size is declared by a later PATCH")
_METADATA = _header("Upload-Metadata", "key base64(value) pairs: filename, filetype, …")
_OFFSET = _header("Upload-Offset", "Where this body starts", required=True)
_CHECKSUM = _header("Upload-Checksum", "sha1|sha256 base64(digest) of this body")


def _documented(*parameters: dict[str, object], body: bool = False) -> dict[str, object]:
    extra: dict[str, object] = {"parameters": list(parameters)}
    if body:
        extra["requestBody"] = {
            "content": {OFFSET_STREAM: {"schema": {"type": "string", "format": "binary"}}}
        }
    return extra


def _capabilities(settings: SettingsDep) -> dict[str, str]:
    return {
        "Tus-Version": TUS_VERSION,
        "Tus-Extension": EXTENSIONS,
        "Tus-Max-Size": str(settings.max_upload_bytes),
        "Tus-Checksum-Algorithm": ",".join(CHECKSUMS),
    }


@router.options("", status_code=204, include_in_schema=False)
@router.options("/", status_code=204, summary="What this tus server supports")
@router.options("/{upload_id}", status_code=204, include_in_schema=False)
async def capabilities(settings: SettingsDep) -> Response:
    return Response(status_code=204, headers=_capabilities(settings))


def _progress_headers(job: Job) -> dict[str, str]:
    assert job.resumable is not None
    headers = {"Upload-Offset": str(offset_of(job)), "Chute-Job-Id": job.job_id}
    if not job.resumable.complete and job.resumable.offset != job.resumable.length:
        headers["Upload-Expires"] = http_date(job.resumable.expires)
    return headers


def _location(request: Request, job_id: str) -> str:
    return f"{str(request.base_url).rstrip('/')}{PREFIX}/{job_id}"


async def _append_body(
    request: Request,
    job: Job,
    *,
    uploads: TusUploadsDep,
    rules: UploadRules,
    budget: UploadBudgetDep,
    settings: SettingsDep,
    offset: int,
    length: int | None,
) -> Job:
    if not request.headers.get("content-type", "").lower().startswith(OFFSET_STREAM):
        raise NotAnOffsetStream(f"a PATCH body must be {OFFSET_STREAM}")
    checksum = parse_checksum(request.headers)
    assert job.resumable is not None
    declared = declared_length(request)
    held = None if declared is None else declared + job.resumable.tail_bytes
    # Room for the buffers first: no byte read and no AWS request without it.
    async with budget.reserve(upload_reservation(settings.upload_part_bytes, held)):
        body: AsyncIterator[bytes] = request.stream()
        return await uploads.append(
            job, offset=offset, length=length, checksum=checksum, chunks=body, rules=rules
        )


@router.post("", status_code=201, include_in_schema=False)
@router.post(
    "/",
    status_code=201,
    summary="Create an upload (Upload-Length or Upload-Defer-Length; a body too, optionally)",
    responses={
        k: PROBLEM_RESPONSES[k] for k in (400, 401, 403, 409, 412, 413, 415, 423, 429, 460, 503)
    },
    openapi_extra=_documented(_VERSION, _LENGTH, _DEFER, _METADATA, _CHECKSUM, body=True),
)
async def create(
    request: Request,
    uploads: TusUploadsDep,
    rules: RulesDep,
    budget: UploadBudgetDep,
    settings: SettingsDep,
    tenant: UploadTenantDep,
    processors: str | None = Query(
        default=None, max_length=500, description="As for /v1/uploads (or metadata `processors`)"
    ),
    callback_url: str | None = Query(
        default=None, max_length=2000, description="As for /v1/uploads (or `callback_url`)"
    ),
) -> Response:
    require_version(request.headers)
    length = parse_length(request.headers, creating=True)
    raw_metadata = request.headers.get("upload-metadata")
    metadata = parse_metadata(raw_metadata)
    limits = await rules.for_upload(
        tenant,
        processors=parse_processor_list(processors or metadata.get("processors")),
        callback_url=callback_url or metadata.get("callback_url") or None,
    )
    job = await uploads.create(
        Creation(
            tenant=tenant,
            length=length,
            metadata=metadata,
            raw_metadata=raw_metadata,
            rules=limits,
        )
    )
    headers = {"Location": _location(request, job.job_id)}
    if declared_length(request) or "transfer-encoding" in request.headers:
        job = await _append_body(  # creation-with-upload
            request,
            job,
            uploads=uploads,
            rules=limits,
            budget=budget,
            settings=settings,
            offset=0,
            length=None,
        )
    return Response(status_code=201, headers={**headers, **_progress_headers(job)})


@router.head(
    "/{upload_id}",
    summary="The upload's offset",
    responses={k: PROBLEM_RESPONSES[k] for k in (400, 401, 403, 404, 410, 412, 429, 503)},
    openapi_extra=_documented(_VERSION),
)
async def offset(
    request: Request, uploads: TusUploadsDep, tenant: ReadTenantDep, upload_id: str = UploadId
) -> Response:
    require_version(request.headers)
    job = await uploads.find(upload_id, tenant=tenant)
    assert job.resumable is not None
    headers = {**_progress_headers(job), "Cache-Control": "no-store"}
    if job.resumable.length is None:
        headers["Upload-Defer-Length"] = "1"
    else:
        headers["Upload-Length"] = str(job.resumable.length)
    if job.resumable.metadata:
        headers["Upload-Metadata"] = job.resumable.metadata
    return Response(status_code=200, headers=headers)


@router.patch(
    "/{upload_id}",
    status_code=204,
    summary="Append bytes at Upload-Offset (application/offset+octet-stream)",
    responses={
        k: PROBLEM_RESPONSES[k]
        for k in (400, 401, 403, 404, 408, 409, 410, 412, 413, 415, 423, 429, 460, 503)
    },
    openapi_extra=_documented(_VERSION, _OFFSET, _LENGTH, _CHECKSUM, body=True),
)
async def append(
    request: Request,
    uploads: TusUploadsDep,
    rules: RulesDep,
    budget: UploadBudgetDep,
    settings: SettingsDep,
    tenant: ReadTenantDep,
    upload_id: str = UploadId,
) -> Response:
    require_version(request.headers)
    job = await uploads.find(upload_id, tenant=tenant)
    limits = await rules.for_upload(tenant, processors=None, callback_url=None)
    length = parse_length(request.headers, creating=False)
    job = await _append_body(
        request,
        job,
        uploads=uploads,
        rules=limits,
        budget=budget,
        settings=settings,
        offset=parse_offset(request.headers),
        length=length,
    )
    return Response(status_code=204, headers=_progress_headers(job))


@router.delete(
    "/{upload_id}",
    status_code=204,
    summary="Terminate an unfinished upload",
    responses={k: PROBLEM_RESPONSES[k] for k in (400, 401, 403, 404, 409, 410, 412, 429, 503)},
    openapi_extra=_documented(_VERSION),
)
async def terminate(
    request: Request, uploads: TusUploadsDep, tenant: ReadTenantDep, upload_id: str = UploadId
) -> Response:
    require_version(request.headers)
    await uploads.terminate(await uploads.find(upload_id, tenant=tenant))
    return Response(status_code=204)
