"""RFC 9457 problem+json responses: the one place an error becomes HTTP. Errors of the
API are ApiErrors (errors.py); the few foreign ones (the core's, FastAPI's, botocore's)
are translated to one here, and one handler renders them all."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from chute_api.errors import (
    ApiError,
    DependencyUnavailable,
    HttpError,
    InvalidCallback,
    MalformedRequest,
    NotFound,
    ProcessorsInTwoPools,
    UploadRejected,
)
from chute_api.metrics import UPLOADS_REJECTED
from chute_core.errors import JobNotFound, UnsafeCallback
from chute_core.logs import get_logger
from chute_core.pools import ProcessorsSpanPools

__all__ = ["PROBLEM_RESPONSES", "Problem", "install_problem_handlers", "render"]

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:chute:problem:"
COMPANION_PREFIX = "/v1/s3/"
log = get_logger(__name__)


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    # Companion's convention, on the /v1/s3 routes only: Uppy shows a 4xx's `message`.
    message: str | None = None


def render(request: Request, error: ApiError) -> JSONResponse:
    body = Problem(
        type=f"{TYPE_PREFIX}{error.code}",
        title=error.title,
        status=error.status,
        detail=error.detail,
        instance=request.url.path,
        message=(error.detail or error.title)
        if request.url.path.startswith(COMPANION_PREFIX)
        else None,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=error.status,
        media_type=MEDIA_TYPE,
        headers=error.headers or None,
    )


def _problem_doc(description: str) -> dict[str, Any]:
    return {"description": description, "model": Problem, "content": {MEDIA_TYPE: {}}}


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_doc(
        "Malformed request (`malformed-request`, `malformed-upload`, `empty-upload`, "
        "`unknown-processor`, `invalid-cursor`, `malformed-digest`, `digest-mismatch`, "
        "`invalid-callback`; tus: `checksum-algorithm-unsupported`)"
    ),
    401: _problem_doc("Missing or invalid credentials (`unauthorized`)"),
    403: _problem_doc("Valid credentials that grant nothing here (`forbidden`)"),
    404: _problem_doc("No such job (`not-found`)"),
    409: _problem_doc(
        "Idempotency-Key used for a different request, or still in progress "
        "(`idempotency-conflict`); the job's state does not allow this "
        "(`job-not-succeeded`, `job-not-cancellable`); tus: Upload-Offset is not the "
        "upload's offset (`offset-mismatch`)"
    ),
    408: _problem_doc("The client stopped sending the body (`upload-timeout`)"),
    410: _problem_doc("The tus upload expired or ended unfinished (`upload-gone`)"),
    412: _problem_doc("tus: Tus-Resumable is not 1.0.0 (`tus-version-unsupported`)"),
    423: _problem_doc(
        "tus: another PATCH holds the upload past one lock lease (`upload-locked`, Retry-After)"
    ),
    460: _problem_doc(
        "tus: the chunk does not match Upload-Checksum; discarded (`checksum-mismatch`)"
    ),
    413: _problem_doc("Upload larger than the limit (`upload-too-large`)"),
    415: _problem_doc(
        "Content type not allowed for this tenant (`unsupported-media-type`); tus: a PATCH "
        "body that is not application/offset+octet-stream (`not-an-offset-stream`)"
    ),
    429: _problem_doc("The tenant's request budget is spent (`rate-limited`, Retry-After)"),
    503: _problem_doc(
        "A dependency (S3, DynamoDB) is unavailable (`dependency-unavailable`), or this "
        "replica has no room for another upload's buffers (`server-busy`); both with "
        "Retry-After"
    ),
}


def as_api_error(request: Request, exc: Exception) -> ApiError:
    """The ApiError that stands for `exc`."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, JobNotFound):
        return NotFound(f"no job {exc.job_id}")
    if isinstance(exc, UnsafeCallback):
        return InvalidCallback(str(exc))
    if isinstance(exc, ProcessorsSpanPools):
        return ProcessorsInTwoPools(str(exc))
    if isinstance(exc, RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return MalformedRequest(f"{where}: {first.get('msg', 'invalid')}" if where else None)
    if isinstance(exc, StarletteHTTPException):
        return HttpError(exc.status_code, str(exc.detail), exc.headers)
    if isinstance(exc, ClientError | BotoCoreError):
        log.warning("dependency_error", error=str(exc), path=request.url.path)
        return DependencyUnavailable()
    raise exc


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    error = as_api_error(request, exc)
    if isinstance(error, UploadRejected):
        UPLOADS_REJECTED.labels(reason=error.code).inc()
    return render(request, error)


HANDLED = (
    ApiError,
    JobNotFound,
    UnsafeCallback,
    ProcessorsSpanPools,
    RequestValidationError,
    StarletteHTTPException,
    ClientError,
    BotoCoreError,
)


def install_problem_handlers(app: FastAPI) -> None:
    for kind in HANDLED:
        app.add_exception_handler(kind, _handle)
