"""The job record (DESIGN.md §2) and the state machine that alone may move its `state`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import uuid_utils
from pydantic import BaseModel, ConfigDict

__all__ = [
    "ISO_FORMAT",
    "SOURCES",
    "TERMINAL",
    "DirectUpload",
    "Job",
    "JobError",
    "JobState",
    "ObjectInfo",
    "iso",
    "new_job",
    "new_job_id",
    "utcnow",
]


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
    declared_size: int
    deadline: str  # ISO time after which an unused upload expires
    upload_id: str | None = None  # multipart only
    part_size: int | None = None


class JobError(BaseModel):
    code: str
    message: str
    retryable: bool = False


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
    result: dict[str, Any] | None = None
    error: JobError | None = None
    traceparent: str | None = None
    processors: list[str] | None = None  # the upload's explicit choice; None: route by type
    callback_url: str | None = None  # POSTed the terminal record (signed)
    webhook: dict[str, Any] | None = None  # how that delivery went
    direct_upload: DirectUpload | None = None
    expires_at: int


ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Fixed-width UTC ISO-8601: string order is time order (lease checks rely on it)."""
    return moment.astimezone(UTC).strftime(ISO_FORMAT)


def new_job_id() -> str:
    """A UUIDv7: time-ordered, so ids sort roughly by creation."""
    return str(uuid_utils.uuid7())


def new_job(*, job_id: str, tenant: str, obj: ObjectInfo, ttl: timedelta, state: JobState) -> Job:
    now = utcnow()
    return Job(
        job_id=job_id,
        tenant=tenant,
        state=state,
        created_at=iso(now),
        updated_at=iso(now),
        object=obj,
        expires_at=int((now + ttl).timestamp()),
    )
