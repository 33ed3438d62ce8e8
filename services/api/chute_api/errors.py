"""The API's error model: every refusal is an ApiError that carries its HTTP status,
its problem type (`urn:chute:problem:<code>`) and title; problems.py renders it.

    ApiError (chute_core.errors.ChuteError)
    ├── MalformedRequest        400 malformed-request   (request validation)
    ├── BadCursor               400 invalid-cursor
    ├── InvalidCallback         400 invalid-callback    (from UnsafeCallback)
    ├── Unauthorized            401 unauthorized        (WWW-Authenticate)
    ├── Forbidden               403 forbidden
    ├── NotFound                404 not-found           (from JobNotFound)
    ├── JobStateConflict        409 job-not-succeeded | job-not-cancellable
    ├── IdempotencyConflict     409 idempotency-conflict
    ├── RateLimited             429 rate-limited        (Retry-After)
    ├── DependencyUnavailable   503 dependency-unavailable (Retry-After)
    ├── HttpError               any status Starlette raised (unknown route, method)
    └── UploadRejected          the upload is refused; counted by reason
        ├── BadUpload 400 malformed-upload, EmptyUpload 400 empty-upload,
        ├── MalformedDigest 400, DigestMismatch 400, UnknownProcessor 400,
        ├── UploadTimeout 408, UploadTooLarge 413, UnsupportedUploadType 415
        └── ServerBusy 503 server-busy (Retry-After): no room in the memory budget
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from chute_core.errors import ChuteError

if TYPE_CHECKING:
    from chute_api.rate_limit import Quota

__all__ = [
    "ApiError",
    "BadCursor",
    "BadUpload",
    "ChecksumAlgorithmUnsupported",
    "ChecksumMismatch",
    "DependencyUnavailable",
    "DigestMismatch",
    "EmptyUpload",
    "Forbidden",
    "HttpError",
    "IdempotencyConflict",
    "InvalidCallback",
    "JobStateConflict",
    "MalformedDigest",
    "MalformedRequest",
    "NotAnOffsetStream",
    "NotFound",
    "OffsetMismatch",
    "ProcessorsInTwoPools",
    "RateLimited",
    "ServerBusy",
    "TusVersionUnsupported",
    "Unauthorized",
    "UnknownProcessor",
    "UnsupportedUploadType",
    "UploadGone",
    "UploadLocked",
    "UploadRejected",
    "UploadTimeout",
    "UploadTooLarge",
]


class ApiError(ChuteError):
    """A refusal with its HTTP status, stable problem code and title."""

    status = 400
    code = "malformed-request"
    title = "Malformed request"

    def __init__(self, detail: str | None = None, *, headers: Mapping[str, str] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = dict(headers or {})


class MalformedRequest(ApiError):
    pass


class BadCursor(ApiError):
    code, title = "invalid-cursor", "Invalid cursor"


class InvalidCallback(ApiError):
    code, title = "invalid-callback", "Callback URL refused"


class Unauthorized(ApiError):
    """Missing or invalid credentials: 401 with a WWW-Authenticate challenge."""

    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str, *, token_error: bool = False) -> None:
        challenge = 'Bearer realm="chute"' + (', error="invalid_token"' if token_error else "")
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class Forbidden(ApiError):
    """Valid credentials that grant nothing here."""

    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(ApiError):
    status, code, title = 404, "not-found", "Job not found"


class JobStateConflict(ApiError):
    """The job's state does not allow the request; `code` names why."""

    status, title = 409, "Not in this state"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class IdempotencyConflict(ApiError):
    """The key was used for a different request, or its request is still running."""

    status, code, title = 409, "idempotency-conflict", "Idempotency-Key conflict"

    def __init__(self, detail: str, *, in_progress: bool = False) -> None:
        super().__init__(detail, headers={"Retry-After": "1"} if in_progress else None)
        self.in_progress = in_progress


class RateLimited(ApiError):
    status, code, title = 429, "rate-limited", "Too many requests"

    def __init__(self, quota: Quota) -> None:
        super().__init__(
            f"the {quota.name} budget of this tenant is spent; retry after {quota.retry_after} s",
            headers=quota.headers(),
        )
        self.quota = quota


class DependencyUnavailable(ApiError):
    status, code, title = 503, "dependency-unavailable", "A storage dependency is unavailable"
    RETRY_AFTER_SECONDS = 5

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": str(self.RETRY_AFTER_SECONDS)})


class HttpError(ApiError):
    """What Starlette itself refuses (no such route, method not allowed)."""

    def __init__(self, status: int, title: str, headers: Mapping[str, str] | None) -> None:
        self.status, self.title = status, title
        self.code = "not-found" if status == 404 else f"http-{status}"
        super().__init__(headers=headers)


class UploadRejected(ApiError):
    """The API refuses an upload; `code` is also the failed job's error code."""

    code, title = "bad-upload", "Upload rejected"


class BadUpload(UploadRejected):
    code = "malformed-upload"


class DigestMismatch(UploadRejected):
    code = "digest-mismatch"


class MalformedDigest(UploadRejected):
    code = "malformed-digest"


class EmptyUpload(UploadRejected):
    code = "empty-upload"


class UnknownProcessor(UploadRejected):
    code = "unknown-processor"


class ProcessorsInTwoPools(UploadRejected):
    """The processors asked for run in different worker pools (chute_core.pools)."""

    code = "processors-span-pools"


class UploadTimeout(UploadRejected):
    status, code = 408, "upload-timeout"


class UploadTooLarge(UploadRejected):
    status, code = 413, "upload-too-large"


class UnsupportedUploadType(UploadRejected):
    status, code = 415, "unsupported-media-type"


class ServerBusy(UploadRejected):
    """No room in the replica's upload memory budget: retry later (or elsewhere)."""

    status, code, title = 503, "server-busy", "The API is busy"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"every upload buffer of this replica is in use; retry after {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


# tus 1.0 (routes/tus.py): the statuses the protocol names, as problem documents.


class TusVersionUnsupported(ApiError):
    status, code, title = 412, "tus-version-unsupported", "Unsupported tus version"

    def __init__(self) -> None:
        super().__init__(
            "send Tus-Resumable: 1.0.0, the version this server speaks",
            headers={"Tus-Version": "1.0.0"},
        )


class NotAnOffsetStream(ApiError):
    status, code, title = 415, "not-an-offset-stream", "Wrong content type for a tus PATCH"


class OffsetMismatch(ApiError):
    status, code, title = 409, "offset-mismatch", "Upload-Offset does not match"


class UploadLocked(ApiError):
    """Another PATCH holds the upload (or held it on a replica that died)."""

    status, code, title = 423, "upload-locked", "Another request is writing this upload"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"another PATCH holds this upload; retry after {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


class UploadGone(ApiError):
    status, code, title = 410, "upload-gone", "The upload expired"


class ChecksumAlgorithmUnsupported(ApiError):
    code, title = "checksum-algorithm-unsupported", "Unsupported checksum algorithm"


class ChecksumMismatch(UploadRejected):
    """The chunk does not match its Upload-Checksum: it is discarded, the offset stays."""

    status, code, title = 460, "checksum-mismatch", "Checksum mismatch"
