"""Upload errors of the API, each a stable problem type (subclasses of UploadRejected)."""

from __future__ import annotations

from chute_core.errors import ChuteError, UploadRejected

__all__ = [
    "BadUpload",
    "DigestMismatch",
    "EmptyUpload",
    "Forbidden",
    "JobStateConflict",
    "MalformedDigest",
    "Unauthorized",
    "UnknownProcessor",
    "UnsupportedUploadType",
    "UploadTimeout",
    "UploadTooLarge",
]


class BadUpload(UploadRejected):
    status = 400
    code = "malformed-upload"


class DigestMismatch(UploadRejected):
    status = 400
    code = "digest-mismatch"


class MalformedDigest(UploadRejected):
    status = 400
    code = "malformed-digest"


class EmptyUpload(UploadRejected):
    status = 400
    code = "empty-upload"


class UnsupportedUploadType(UploadRejected):
    status = 415
    code = "unsupported-media-type"


class UploadTimeout(UploadRejected):
    status = 408
    code = "upload-timeout"


class UploadTooLarge(UploadRejected):
    status = 413
    code = "upload-too-large"


class UnknownProcessor(UploadRejected):
    status = 400
    code = "unknown-processor"


class Unauthorized(ChuteError):
    """Missing or invalid credentials: 401 with a WWW-Authenticate challenge."""

    def __init__(self, detail: str, *, token_error: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.token_error = token_error


class Forbidden(ChuteError):
    """Valid credentials that grant nothing here: 403."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class JobStateConflict(ChuteError):
    """The job's state does not allow the request (409); `code` names why."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
