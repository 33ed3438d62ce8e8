"""Uploads: stream a file into the pipeline and answer 202 at once."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from chute_api.body import form_file, raw_file
from chute_api.deps import RuntimeDep, TenantDep
from chute_api.digests import expected_sha256
from chute_api.errors import EmptyUpload, UnknownProcessor, UploadTooLarge
from chute_api.ingest import ingest
from chute_api.problems import PROBLEM_RESPONSES
from chute_core.jobs import JobState

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


def _chosen_processors(value: str | None, allowed: list[str]) -> list[str] | None:
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
        413: PROBLEM_RESPONSES[413],
        503: PROBLEM_RESPONSES[503],
    },
    openapi_extra=_BODY_DOC,
)
async def create_upload(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    tenant: TenantDep,
    filename: str | None = Query(
        default=None, max_length=255, description="Original file name (raw bodies only)"
    ),
    processors: str | None = Query(
        default=None,
        max_length=500,
        description="Comma-separated processors to run, in order, instead of routing by "
        "the detected content type (e.g. `inspect,thumbnail`). Unknown names are a 400.",
        examples=["inspect,thumbnail"],
    ),
) -> UploadAccepted:
    chosen = _chosen_processors(processors, runtime.api.upload_processors)
    digest = expected_sha256(request.headers)
    length = _declared_length(request)
    if length is not None and length > runtime.api.max_upload_bytes:
        raise UploadTooLarge(
            f"declared length {length} exceeds the limit of {runtime.api.max_upload_bytes} bytes"
        )
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        incoming = await form_file(request)
    else:
        if length == 0:
            raise EmptyUpload("the upload has no content")
        incoming = raw_file(request, filename)
    job = await ingest(
        runtime=runtime,
        tenant=tenant,
        incoming=incoming,
        processors=chosen,
        expected_sha256=digest,
    )
    status_url = str(request.url_for("get_job", job_id=job.job_id))
    response.headers["Location"] = status_url
    return UploadAccepted(job_id=job.job_id, state=job.state, status_url=status_url)
