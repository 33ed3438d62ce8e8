"""The job record (DESIGN.md §2) and the state machine that alone may move its `state`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import uuid_utils
from pydantic import BaseModel, ConfigDict, Field

from chute_core.errors import ChuteError
from chute_core.pools import DEFAULT_POOL

__all__ = [
    "ISO_FORMAT",
    "SOURCES",
    "TERMINAL",
    "DirectUpload",
    "Job",
    "JobError",
    "JobState",
    "ObjectInfo",
    "ProcessingResult",
    "ProcessorStep",
    "ResumableUpload",
    "StepOutcome",
    "iso",
    "new_job",
    "new_job_id",
    "parse_iso",
    "seconds_since",
    "utcnow",
]

MESSAGE_LIMIT = 1000  # characters of an error message kept in the job record


class JobState(StrEnum):
    AWAITING_UPLOAD = "AWAITING_UPLOAD"
    RECEIVING = "RECEIVING"
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


TERMINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})

# target state -> the states a transition into it may leave. PROCESSING may also be
# re-entered from PROCESSING when the holder's lease has expired (see JobStore.claim).
# RECEIVING is claimable because S3 may deliver the event before the API writes QUEUED.
SOURCES: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.RECEIVING, JobState.AWAITING_UPLOAD, JobState.PROCESSING}),
    # AWAITING_UPLOAD: a presigned upload's object arrived (its event is the signal).
    JobState.PROCESSING: frozenset({JobState.QUEUED, JobState.RECEIVING, JobState.AWAITING_UPLOAD}),
    JobState.SUCCEEDED: frozenset({JobState.PROCESSING}),
    JobState.FAILED: frozenset(
        {JobState.AWAITING_UPLOAD, JobState.RECEIVING, JobState.QUEUED, JobState.PROCESSING}
    ),
    JobState.CANCELLED: frozenset({JobState.AWAITING_UPLOAD, JobState.RECEIVING, JobState.QUEUED}),
}


class ObjectInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    bucket: str
    key: str
    size: int | None = None
    etag: str | None = None
    content_type: str | None = None
    filename: str | None = None


class DirectUpload(BaseModel):
    """A job whose client uploads straight to S3 with presigned requests."""

    mode: str  # "post" (one presigned POST) or "multipart" (presigned parts + complete)
    declared_size: int | None = None  # None: not declared (a Companion-style upload)
    deadline: str  # ISO time after which an unused upload expires
    upload_id: str | None = None  # multipart only
    part_size: int | None = None

    def refuses(self, size: int | None) -> bool:
        """Whether a stored object of `size` bytes breaks what the client declared."""
        return None not in (size, self.declared_size) and size != self.declared_size


class ResumableUpload(BaseModel):
    """A tus upload's progress: what S3 holds of it so far. Bytes `[0, parts_bytes)` are
    the multipart upload's committed parts; `[parts_bytes, offset)` the tail object
    (under S3's 5 MiB minimum part size). Written only under the upload's lock."""

    length: int | None = None  # None: deferred (Upload-Defer-Length)
    offset: int = 0
    parts: int = 0
    parts_bytes: int = 0
    upload_id: str | None = None  # the S3 multipart upload, once a part was sent
    tail_key: str | None = None  # None while offset == parts_bytes
    hash_state: str | None = None  # SHA-256 state after `offset` bytes (base64)
    expires: str  # ISO time after which the unfinished upload is gone
    metadata: str | None = None  # Upload-Metadata as sent, echoed on HEAD
    type_checked: bool = False  # the first bytes' type passed the tenant's rules

    @property
    def tail_bytes(self) -> int:
        return self.offset - self.parts_bytes

    @property
    def complete(self) -> bool:
        return self.length is not None and self.offset == self.length


class JobError(BaseModel):
    """Why a job failed, as its record keeps it."""

    code: str
    message: str
    retryable: bool = False

    @classmethod
    def from_exception(cls, exc: BaseException, *, unexpected: str = "internal_error") -> JobError:
        """The record of `exc`: a ChuteError keeps its code, message and retryability;
        anything else is the non-retryable `unexpected` code with the exception's type."""
        if isinstance(exc, ChuteError):
            code, message, retryable = exc.code, exc.message, exc.retryable
        else:
            code, retryable = unexpected, False
            message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return cls(code=code, message=message[:MESSAGE_LIMIT], retryable=retryable)


class StepOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class ProcessorStep(BaseModel):
    """One processor's part in a job: what it returned, or why it failed or was skipped."""

    name: str
    outcome: StepOutcome
    seconds: float | None = None  # absent when skipped
    summary: dict[str, Any] | None = None  # small JSON; "objects" lists its result keys
    error: JobError | None = None
    reason: str | None = None  # why it was skipped

    @property
    def objects(self) -> list[str]:
        """The keys of the result objects this processor wrote."""
        return [str(key) for key in (self.summary or {}).get("objects", [])]


class ProcessingResult(BaseModel):
    """What the worker's processor chain did with a job (the record's `result`)."""

    content_type: str | None = None  # detected from the bytes, when routing needed it
    processors: list[ProcessorStep] = []

    def summary_of(self, name: str) -> dict[str, Any] | None:
        for step in self.processors:
            if step.name == name and step.summary is not None:
                return step.summary
        return None

    @property
    def deciding(self) -> str:
        """The processor that decided the outcome: the failed one, else the last run."""
        ran = [s for s in self.processors if s.outcome is not StepOutcome.SKIPPED]
        return ran[-1].name if ran else "none"


class Job(BaseModel):
    model_config = ConfigDict(extra="ignore")

    job_id: str
    tenant: str
    state: JobState
    created_at: str
    updated_at: str
    started_at: str | None = None
    finished_at: str | None = None
    object: ObjectInfo
    sha256: str | None = None
    detected_type: str | None = None
    attempts: int = 0
    lease_owner: str | None = None
    lease_expires_at: str | None = None
    result: ProcessingResult | None = None
    error: JobError | None = None
    traceparent: str | None = None
    processors: list[str] | None = None  # the upload's explicit choice; None: route by type
    pool: str = DEFAULT_POOL  # whose queue carries the job (chute_core.pools)
    callback_url: str | None = None  # POSTed the terminal record (signed)
    webhook: dict[str, Any] | None = None  # how that delivery went
    direct_upload: DirectUpload | None = None
    resumable: ResumableUpload | None = None  # a tus upload
    upload_lock: str | None = None  # the tus PATCH holding the upload, until …
    upload_lock_until: str | None = None
    expires_at: int
    # The reconciler's bookkeeping (chute_core.due), never part of the API's answers:
    # when the job becomes overdue (epoch seconds; None once terminal and notified) and
    # how many times the reconciler has re-published its event.
    due_at: int | None = Field(default=None, exclude=True)
    republished: int = Field(default=0, exclude=True)


ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Fixed-width UTC ISO-8601: string order is time order (lease checks rely on it)."""
    return moment.astimezone(UTC).strftime(ISO_FORMAT)


def parse_iso(text: str) -> datetime:
    """The moment an `iso()` string names (timezone-aware, UTC)."""
    return datetime.strptime(text, ISO_FORMAT).replace(tzinfo=UTC)


def seconds_since(text: str) -> float:
    """Seconds from an `iso()` moment until now (0 if it lies ahead)."""
    return max(0.0, (utcnow() - parse_iso(text)).total_seconds())


def new_job_id() -> str:
    """A UUIDv7: time-ordered, so ids sort roughly by creation."""
    return str(uuid_utils.uuid7())


def new_job(
    *,
    job_id: str,
    tenant: str,
    obj: ObjectInfo,
    ttl: timedelta,
    state: JobState,
    pool: str = DEFAULT_POOL,
) -> Job:
    now = utcnow()
    return Job(
        job_id=job_id,
        tenant=tenant,
        state=state,
        created_at=iso(now),
        updated_at=iso(now),
        object=obj,
        pool=pool,
        expires_at=int((now + ttl).timestamp()),
    )
