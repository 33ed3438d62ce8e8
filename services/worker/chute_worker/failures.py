"""Sort failures into transient (retry with backoff) and permanent (fail the job now)."""

from __future__ import annotations

import random

from botocore.exceptions import BotoCoreError, ClientError

from chute_core.aws import error_code
from chute_core.errors import ProcessorError

__all__ = ["backoff_seconds", "classify", "is_backend_outage"]

_MISSING = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchBucket"})
_TRANSIENT = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


def is_backend_outage(exc: BaseException) -> bool:
    """A failure to reach AWS at all (refused, reset, timed out, 5xx, throttled)."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return code in _TRANSIENT or status >= 500
    return isinstance(exc, BotoCoreError | OSError | TimeoutError)


def classify(exc: BaseException) -> ProcessorError:
    """The job's error for `exc`: its code, a message, and whether to retry."""
    if isinstance(exc, ProcessorError):
        return exc
    if isinstance(exc, ClientError):
        code = error_code(exc)
        if code in _MISSING:
            return ProcessorError("object_missing", f"the object is gone ({code})", retryable=False)
        if is_backend_outage(exc):
            return ProcessorError("aws_unavailable", f"AWS answered {code}", retryable=True)
        # AccessDenied and friends: a deployment problem an operator can fix; keep retrying.
        return ProcessorError("aws_error", f"AWS answered {code}: {exc}", retryable=True)
    if is_backend_outage(exc):
        return ProcessorError("aws_unavailable", f"{type(exc).__name__}: {exc}", retryable=True)
    return ProcessorError("processor_error", f"{type(exc).__name__}: {exc}", retryable=True)


def backoff_seconds(receive_count: int, *, base: float, cap: float) -> int:
    """Visibility before the next attempt: exponential in the receives so far, with
    "equal jitter" so that a burst of failures does not come back as a burst."""
    ceiling = min(cap, base * 2 ** max(0, receive_count - 1))
    return max(1, round(random.uniform(ceiling / 2, ceiling)))
