"""Upload errors of the API, each a stable problem type (subclasses of UploadRejected)."""

from __future__ import annotations

from chute_core.errors import UploadRejected

__all__ = ["BadUpload", "EmptyUpload", "UnknownProcessor", "UploadTooLarge"]


class BadUpload(UploadRejected):
    status = 400
    code = "malformed-upload"


class EmptyUpload(UploadRejected):
    status = 400
    code = "empty-upload"


class UploadTooLarge(UploadRejected):
    status = 413
    code = "upload-too-large"


class UnknownProcessor(UploadRejected):
    status = 400
    code = "unknown-processor"
