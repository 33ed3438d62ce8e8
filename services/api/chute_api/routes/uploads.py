"""Uploads: stream a file into the pipeline and answer 202 at once."""

from __future__ import annotations

import asyncio
import hashlib

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from chute_api.body import IncomingFile, form_file, raw_file
from chute_api.deps import RuntimeDep, UploadTenantDep
from chute_api.digests import expected_sha256
from chute_api.errors import EmptyUpload, UnknownProcessor, UploadTooLarge
from chute_api.idempotency import (
    MAX_KEY_LENGTH,
    IdempotencyConflict,
    Replay,
    fingerprint,
)
from chute_api.ingest import Upload, ingest
from chute_api.problems import PROBLEM_RESPONSES
from chute_api.routes.jobs import status_url
from chute_core.jobs import JobState
from chute_core.settings import WebhookSettings
from chute_core.webhooks import UnsafeCallback, check_callback_url, resolve_safely

__all__ = ["router"]

router = APIRouter(prefix="/v1/uploads", tags=["uploads"])


class UploadAccepted(BaseModel):
    job_id: str
    state: JobState
    status_url: str


_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


async def check_callback(url: str, settings: WebhookSettings) -> None:
    if settings.webhook_secret is None:
        raise UnsafeCallback("webhooks are not configured on this API (CHUTE_WEBHOOK_SECRET)")
    host, port = check_callback_url(url, allow_http=settings.webhook_allow_http)
    # Checked again at each delivery: DNS may change in between.
    await resolve_safely(host, port, allow_private=settings.webhook_allow_private)


def chosen_processors(value: str | None, allowed: list[str]) -> list[str] | None:
    """The upload's explicit processor list, checked now rather than failing later."""
    if value is None:
        return None
    names = [name.strip() for name in value.split(",")]
    if not all(names):
        raise UnknownProcessor("processors must be a comma-separated list of names")
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise UnknownProcessor(f"unknown processor {unknown[0]!r}; available: {', '.join(allowed)}")
    if len(set(names)) != len(names):
        raise UnknownProcessor("a processor is named twice")
    return names


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


@router.post(
    "",
    status_code=202,
    response_model=UploadAccepted,
    summary="Upload a file (multipart/form-data field `file`, or the raw body)",
    responses={
        400: PROBLEM_RESPONSES[400],
        401: PROBLEM_RESPONSES[401],
        403: PROBLEM_RESPONSES[403],
        409: PROBLEM_RESPONSES[409],
        408: PROBLEM_RESPONSES[408],
        413: PROBLEM_RESPONSES[413],
        415: PROBLEM_RESPONSES[415],
        429: PROBLEM_RESPONSES[429],
        503: PROBLEM_RESPONSES[503],
    },
    openapi_extra=_BODY_DOC,
)
async def create_upload(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    tenant: UploadTenantDep,
    filename: str | None = Query(
        default=None, max_length=255, description="Original file name (raw bodies only)"
    ),
    idempotency_key: str | None = Header(
        default=None,
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=r"^[\x21-\x7e]+$",
        description="Retry-safe key (24 h): the same key and request answer the first "
        "job again; the same key with a different request is 409",
    ),
    callback_url: str | None = Query(
        default=None,
        max_length=2000,
        description="https URL to POST the job's terminal record to, signed with "
        "Chute-Signature (see the README); internal addresses are refused",
    ),
    processors: str | None = Query(
        default=None,
        max_length=500,
        description="Comma-separated processors to run, in order, instead of routing by "
        "the detected content type (e.g. `inspect,thumbnail`). Unknown names are a 400.",
        examples=["inspect,thumbnail"],
    ),
) -> UploadAccepted | Response:
    policy = runtime.tenants.policy(tenant)
    chosen = chosen_processors(processors, policy.processors or runtime.api.upload_processors)
    digest = expected_sha256(request.headers)
    if callback_url is not None:
        await check_callback(callback_url, runtime.webhooks)
    max_bytes = min(runtime.api.max_upload_bytes, policy.max_upload_bytes or 2**63)
    length = _declared_length(request)
    if length is not None and length > max_bytes:
        raise UploadTooLarge(f"declared length {length} exceeds the limit of {max_bytes} bytes")
    reservation = None
    if idempotency_key is not None:
        outcome = await runtime.idempotency.begin(
            tenant,
            idempotency_key,
            fingerprint("POST", request.url.path, request.query_params, request.headers),
        )
        if isinstance(outcome, Replay):
            return await _replay(request, outcome, length, filename)
        reservation = outcome
    try:
        incoming = await _incoming(request, length, filename)
        job = await ingest(
            runtime,
            Upload(
                tenant=tenant,
                incoming=incoming,
                max_bytes=max_bytes,
                allowed_types=policy.content_types,
                processors=chosen,
                expected_sha256=digest,
                callback_url=callback_url,
                idle_timeout=runtime.api.upload_idle_timeout_seconds,
            ),
        )
    except BaseException:
        if reservation is not None:  # nothing to replay: the key may be used again
            await asyncio.shield(runtime.idempotency.release(reservation))
        raise
    location = status_url(request, job.job_id)
    response.headers["Location"] = location
    accepted = UploadAccepted(job_id=job.job_id, state=job.state, status_url=location)
    if reservation is not None:
        await runtime.idempotency.finish(
            reservation,
            status=202,
            body=accepted.model_dump(mode="json"),
            headers={"Location": location},
            body_sha256=job.sha256,
        )
    return accepted


async def _incoming(request: Request, length: int | None, filename: str | None) -> IncomingFile:
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        return await form_file(request)
    if length == 0:
        raise EmptyUpload("the upload has no content")
    return raw_file(request, filename)


async def _replay(
    request: Request, replay: Replay, length: int | None, filename: str | None
) -> Response:
    """The first answer again, once this body proves to be the same file."""
    digest = hashlib.sha256()
    async for chunk in (await _incoming(request, length, filename)).chunks:
        digest.update(chunk)
    if replay.body_sha256 is not None and digest.hexdigest() != replay.body_sha256:
        raise IdempotencyConflict("this Idempotency-Key was used for a different file")
    return JSONResponse(
        replay.body,
        status_code=replay.status,
        headers={**replay.headers, "Idempotent-Replayed": "true"},
    )
