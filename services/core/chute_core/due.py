"""When each non-terminal job becomes overdue (DESIGN.md §2, the deadline).

Every transition into AWAITING_UPLOAD, RECEIVING, QUEUED or PROCESSING records `due_at`
(epoch seconds) and `due_shard`; the terminal transition removes both, so the sparse
index `DUE_INDEX` holds only the jobs that may still be stranded, and the reconciler
finds the overdue ones with one query per shard, never a scan. The shard spreads index
writes over `SHARDS` partition keys (a hash of the job id), so that a burst of jobs
never makes one hot partition.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chute_core.jobs import Job, JobState, parse_iso
from chute_core.settings import PipelineSettings

__all__ = ["DUE_FIELDS", "DUE_INDEX", "DUE_INDEX_ATTRIBUTES", "SHARDS", "DuePolicy", "shard_of"]

DUE_INDEX = "due-at"
# Projected into the index beside the keys: enough to judge a queued job unread.
DUE_INDEX_ATTRIBUTES = ("state", "updated_at", "lease_expires_at")
SHARDS = 16
DUE_FIELDS = ("due_at", "due_shard")


def shard_of(job_id: str) -> str:
    return f"due-{zlib.crc32(job_id.encode()) % SHARDS:02d}"


@dataclass(frozen=True)
class DuePolicy:
    stuck_after_seconds: float = 600.0
    grace_seconds: float = 60.0

    @classmethod
    def from_settings(cls, pipeline: PipelineSettings) -> DuePolicy:
        return cls(pipeline.stuck_after_seconds, pipeline.overdue_grace_seconds)

    def _after(self, moment: datetime | str, seconds: float) -> int:
        at = parse_iso(moment) if isinstance(moment, str) else moment
        return int(at.timestamp() + seconds) + 1

    def for_new(self, job: Job, now: datetime) -> int | None:
        """A new record's deadline: a presigned upload's deadline or a tus upload's expiry
        plus grace; a streamed upload (RECEIVING or QUEUED) after `stuck_after`."""
        if job.state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED):
            return None
        if job.direct_upload is not None and job.state is JobState.AWAITING_UPLOAD:
            return self._after(job.direct_upload.deadline, self.grace_seconds)
        if job.resumable is not None and job.state is JobState.RECEIVING:
            return self._after(job.resumable.expires, self.grace_seconds)
        return self._after(now, self.stuck_after_seconds)

    def on_enter(self, target: JobState, values: Mapping[str, Any], now: datetime) -> int | None:
        """The deadline a transition into `target` records; None removes it (terminal)."""
        if target in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED):
            return None
        lease = values.get("lease_expires_at")
        if target is JobState.PROCESSING and isinstance(lease, str):
            return self._after(lease, self.grace_seconds)
        return self._after(now, self.stuck_after_seconds)

    def backoff(self, now: datetime, tries: int) -> int:
        """The next look at a job the reconciler has re-queued `tries` times."""
        return self._after(now, self.stuck_after_seconds * 2 ** min(tries, 10))
