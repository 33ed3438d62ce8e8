"""The one exception hierarchy of chute.

    ChuteError
    ├── SettingsError         a CHUTE_* variable is missing or invalid
    ├── JobNotFound           no job with that id (or not the caller's)
    ├── TransitionConflict    a conditional state change lost its race
    ├── PoisonMessage         a queue message that can never be processed
    ├── ProcessorError        a processor could not handle the object
    └── UploadRejected        the API refuses an upload (subclasses in chute_api)

Services turn these into HTTP problems or queue decisions only at their edges.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chute_core.jobs import Job

__all__ = [
    "ChuteError",
    "JobNotFound",
    "PoisonMessage",
    "ProcessorError",
    "SettingsError",
    "TransitionConflict",
    "UploadRejected",
]


class ChuteError(Exception):
    """Base of every error chute raises on purpose."""


class SettingsError(ChuteError):
    """A setting is missing or invalid; the message is one line naming the variable."""


class JobNotFound(ChuteError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} not found")
        self.job_id = job_id


class TransitionConflict(ChuteError):
    """The job was not in a state the transition may leave; `current` is what it was."""

    def __init__(self, job_id: str, target: str, current: Job) -> None:
        super().__init__(f"job {job_id}: cannot move {current.state} -> {target}")
        self.job_id = job_id
        self.target = target
        self.current = current


class PoisonMessage(ChuteError):
    """A message that will never succeed, however often it is retried."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ProcessorError(ChuteError):
    """A processor failed; `retryable` says whether another attempt could succeed, and
    `max_attempts` caps the attempts for failures worth only one more try (a crash)."""

    def __init__(
        self, code: str, message: str, *, retryable: bool, max_attempts: int | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable
        self.max_attempts = max_attempts

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        # Raised in a pool process and re-raised in the worker: pickle the keywords too.
        rebuild = functools.partial(
            type(self), retryable=self.retryable, max_attempts=self.max_attempts
        )
        return rebuild, (self.code, self.message)


class UploadRejected(ChuteError):
    """The API refuses an upload; `code` is the stable problem type suffix."""

    status = 400
    code = "bad-upload"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
