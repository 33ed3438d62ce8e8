"""Uploads: stream a file into the pipeline and answer 202 at once."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from chute_api.body import IncomingFile, declared_length, form_file, raw_file
from chute_api.deps import (
    IdempotencyDep,
    RulesDep,
    SettingsDep,
    StreamedUploadsDep,
    UploadBudgetDep,
    UploadTenantDep,
    aws_available,
)
from chute_api.digests import expected_sha256
from chute_api.errors import EmptyUpload
from chute_api.flows.streamed import Upload
from chute_api.idempotency import Answer, IdempotencyKey, fingerprint
from chute_api.problems import PROBLEM_RESPONSES
from chute_api.routes.jobs import status_url
from chute_api.upload_budget import upload_reservation
from chute_api.upload_rules import parse_processor_list
from chute_core.jobs import JobState

__all__ = ["router"]

router = APIRouter(prefix="/v1/uploads", tags=["uploads"], dependencies=[Depends(aws_available)])


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
    uploads: StreamedUploadsDep,
    rules: RulesDep,
    budget: UploadBudgetDep,
    settings: SettingsDep,
    idempotency: IdempotencyDep,
    tenant: UploadTenantDep,
    idempotency_key: IdempotencyKey = None,
    filename: str | None = Query(
        default=None, max_length=255, description="Original file name (raw bodies only)"
    ),
    callback_url: str | None = Query(
        default=None,
        max_length=2000,
        description="https URL to POST the job's terminal record to, signed with "
        "Chute-Signature (see docs/api.md); internal addresses are refused",
    ),
    processors: str | None = Query(
        default=None,
        max_length=500,
        description="Comma-separated processors to run, in order, instead of routing by "
        "the detected content type (e.g. `inspect,thumbnail`). Unknown names are a 400.",
        examples=["inspect,thumbnail"],
    ),
) -> dict[str, Any]:
    limits = await rules.for_upload(
        tenant, processors=parse_processor_list(processors), callback_url=callback_url
    )
    digest = expected_sha256(request.headers)
    length = declared_length(request)
    limits.check_size(length, what="declared length")
    # Room for the body's buffers first: no byte read and no AWS request without it.
    async with budget.reserve(upload_reservation(settings.upload_part_bytes, length)):
        incoming = await _incoming(request, length, filename)

        async def accept() -> Answer:
            job = await uploads.accept(
                Upload(tenant=tenant, incoming=incoming, rules=limits, expected_sha256=digest)
            )
            location = status_url(request, job.job_id)
            accepted = UploadAccepted(job_id=job.job_id, state=job.state, status_url=location)
            document = accepted.model_dump(mode="json")
            return Answer(202, document, {"Location": location}, job.sha256)

        identity = fingerprint(
            request, content_type=incoming.content_type, filename=incoming.filename
        )
        return await idempotency.answer(
            response, tenant, idempotency_key, identity, accept, incoming.chunks
        )


async def _incoming(request: Request, length: int | None, filename: str | None) -> IncomingFile:
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        return await form_file(request)
    if length == 0:
        raise EmptyUpload("the upload has no content")
    return raw_file(request, filename)
