"""RFC 9457 problem+json responses; the only place errors become HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from chute_api.cursors import BadCursor
from chute_api.errors import Forbidden, JobStateConflict, Unauthorized
from chute_api.idempotency import IdempotencyConflict
from chute_api.metrics import UPLOADS_REJECTED
from chute_api.rate_limit import RateLimited
from chute_core.errors import JobNotFound, UploadRejected
from chute_core.logs import get_logger
from chute_core.webhooks import UnsafeCallback

__all__ = ["PROBLEM_RESPONSES", "Problem", "install_problem_handlers", "problem"]

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:chute:problem:"
RETRY_AFTER_SECONDS = "5"
log = get_logger(__name__)


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


def problem(
    request: Request,
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=f"{TYPE_PREFIX}{code}",
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def _problem_doc(description: str) -> dict[str, Any]:
    return {"description": description, "model": Problem, "content": {MEDIA_TYPE: {}}}


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_doc(
        "Malformed request (`malformed-request`, `malformed-upload`, `empty-upload`, "
        "`unknown-processor`, `invalid-cursor`, `malformed-digest`, `digest-mismatch`, "
        "`invalid-callback`)"
    ),
    401: _problem_doc("Missing or invalid credentials (`unauthorized`)"),
    403: _problem_doc("Valid credentials that grant nothing here (`forbidden`)"),
    404: _problem_doc("No such job (`not-found`)"),
    409: _problem_doc(
        "Idempotency-Key used for a different request, or still in progress "
        "(`idempotency-conflict`); the job's state does not allow this "
        "(`job-not-succeeded`, `job-not-cancellable`)"
    ),
    408: _problem_doc("The client stopped sending the body (`upload-timeout`)"),
    413: _problem_doc("Upload larger than the limit (`upload-too-large`)"),
    415: _problem_doc("Content type not allowed for this tenant (`unsupported-media-type`)"),
    429: _problem_doc("The tenant's request budget is spent (`rate-limited`, Retry-After)"),
    503: _problem_doc("A dependency (S3, DynamoDB) is unavailable (`dependency-unavailable`)"),
}


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(UploadRejected)
    async def _upload_rejected(request: Request, exc: UploadRejected) -> JSONResponse:
        UPLOADS_REJECTED.labels(reason=exc.code).inc()
        return problem(request, exc.status, exc.code, "Upload rejected", exc.detail)

    @app.exception_handler(Unauthorized)
    async def _unauthorized(request: Request, exc: Unauthorized) -> JSONResponse:
        challenge = 'Bearer realm="chute"' + (', error="invalid_token"' if exc.token_error else "")
        return problem(
            request,
            401,
            "unauthorized",
            "Authentication required",
            exc.detail,
            headers={"WWW-Authenticate": challenge},
        )

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> JSONResponse:
        return problem(request, 403, "forbidden", "Not allowed", exc.detail)

    @app.exception_handler(UnsafeCallback)
    async def _unsafe_callback(request: Request, exc: UnsafeCallback) -> JSONResponse:
        return problem(request, 400, "invalid-callback", "Callback URL refused", str(exc))

    @app.exception_handler(JobStateConflict)
    async def _state_conflict(request: Request, exc: JobStateConflict) -> JSONResponse:
        return problem(request, 409, exc.code, "Not in this state", exc.detail)

    @app.exception_handler(RateLimited)
    async def _rate_limited(request: Request, exc: RateLimited) -> JSONResponse:
        return problem(
            request,
            429,
            "rate-limited",
            "Too many requests",
            f"the {exc.quota.name} budget of this tenant is spent; retry after "
            f"{exc.quota.retry_after} s",
            headers=exc.quota.headers(),
        )

    @app.exception_handler(IdempotencyConflict)
    async def _idempotency(request: Request, exc: IdempotencyConflict) -> JSONResponse:
        return problem(
            request,
            409,
            "idempotency-conflict",
            "Idempotency-Key conflict",
            exc.detail,
            headers={"Retry-After": "1"} if exc.in_progress else None,
        )

    @app.exception_handler(BadCursor)
    async def _bad_cursor(request: Request, exc: BadCursor) -> JSONResponse:
        return problem(request, 400, "invalid-cursor", "Invalid cursor", str(exc))

    @app.exception_handler(JobNotFound)
    async def _not_found(request: Request, exc: JobNotFound) -> JSONResponse:
        return problem(request, 404, "not-found", "Job not found", f"no job {exc.job_id}")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        detail = f"{where}: {first.get('msg', 'invalid')}" if where else None
        return problem(request, 400, "malformed-request", "Malformed request", detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "not-found" if exc.status_code == 404 else f"http-{exc.status_code}"
        return problem(request, exc.status_code, code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(ClientError)
    @app.exception_handler(BotoCoreError)
    async def _dependency(request: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency_error", error=str(exc), path=request.url.path)
        return problem(
            request,
            503,
            "dependency-unavailable",
            "A storage dependency is unavailable",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
