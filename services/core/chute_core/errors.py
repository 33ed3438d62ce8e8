"""The errors of chute's shared contract; every error chute raises on purpose derives
from ChuteError, whose `code` is the stable, machine-readable reason: a job's
`error.code` here (snake_case), an API problem type in chute_api.errors (kebab-case).

    ChuteError
    ├── SettingsError         a CHUTE_* variable is missing or invalid
    ├── JobNotFound           no job with that id (or not the caller's)
    ├── TransitionConflict    a conditional state change lost its race
    ├── PoisonMessage         a queue message that can never be processed
    ├── ProcessorError        a job failed: its code, message and whether to retry
    ├── UnsafeCallback        a webhook callback URL chute will not call
    ├── chute_api.errors.ApiError      the API's refusals, each with its HTTP status
    └── chute_worker.chain.ChainFailed a processor chain stopped (worker-internal)

Services turn these into HTTP problems or queue decisions only at their edges; a
failed job records one `chute_core.jobs.JobError`, built by `JobError.from_exception`.
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
    "UnsafeCallback",
]


class ChuteError(Exception):
    """Base of every error chute raises on purpose."""

    code = "internal_error"
    retryable = False

    @property
    def message(self) -> str:
        """What went wrong, for a person (the job record, a problem's detail)."""
        return str(self)


class SettingsError(ChuteError):
    """A setting is missing or invalid; the message is one line naming the variable."""

    code = "invalid_settings"


class JobNotFound(ChuteError):
    code = "job_not_found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} not found")
        self.job_id = job_id


class TransitionConflict(ChuteError):
    """The job was not in a state the transition may leave; `current` is what it was."""

    code = "transition_conflict"

    def __init__(self, job_id: str, target: str, current: Job) -> None:
        super().__init__(f"job {job_id}: cannot move {current.state} -> {target}")
        self.job_id = job_id
        self.target = target
        self.current = current


class PoisonMessage(ChuteError):
    """A message that will never succeed, however often it is retried."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.code = self.reason = reason
        self.detail = detail


class ProcessorError(ChuteError):
    """A job failed; `retryable` says whether another attempt could succeed, and
    `max_attempts` caps the attempts for failures worth only one more try (a crash)."""

    def __init__(
        self, code: str, message: str, *, retryable: bool, max_attempts: int | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self._message = message
        self.retryable = retryable
        self.max_attempts = max_attempts

    @property
    def message(self) -> str:
        return self._message

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        # Raised in a pool process and re-raised in the worker: pickle the keywords too.
        rebuild = functools.partial(
            type(self), retryable=self.retryable, max_attempts=self.max_attempts
        )
        return rebuild, (self.code, self.message)


class UnsafeCallback(ChuteError):
    """A callback URL chute will not call."""

    code = "unsafe_callback"
