"""The lock a tus PATCH holds on its upload (`chute_core.resumable_jobs`), from the
request's side: take it (waiting while another request holds it), renew it while the
body streams, release it on the way out, and say why it could not be had."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import AsyncIterator

from chute_api.errors import NotFound, OffsetMismatch, UploadLocked
from chute_core.errors import ChuteError
from chute_core.jobs import Job, JobState, parse_iso, utcnow
from chute_core.resumable_jobs import LockConflict, ResumableJobs

__all__ = ["UploadLock", "offset_of", "refusal"]

POLL_SECONDS = 0.2  # how often a PATCH waiting for the lock looks again


def offset_of(job: Job) -> int:
    """What HEAD reports: a job past RECEIVING holds its whole object."""
    assert job.resumable is not None
    if job.state is JobState.RECEIVING or job.resumable.length is None:
        return job.resumable.offset
    return job.resumable.length


def refusal(current: Job | None, offset: int) -> ChuteError:
    """Why a PATCH at `offset` could not take the lock, as the record now stands."""
    if current is None or current.resumable is None:
        return NotFound("no such upload")
    if current.state is JobState.RECEIVING and current.resumable.offset == offset:
        until = current.upload_lock_until
        left = (parse_iso(until) - utcnow()).total_seconds() if until else 1.0
        return UploadLocked(max(1, math.ceil(left)))
    return OffsetMismatch(f"the upload's offset is {offset_of(current)}, not {offset}")


class UploadLock:
    def __init__(self, jobs: ResumableJobs, job_id: str, *, lease_seconds: float) -> None:
        self.jobs = jobs
        self.job_id = job_id
        self.lease_seconds = lease_seconds
        self.token = uuid.uuid4().hex

    async def take(self, offset: int) -> Job:
        """Take the lock, waiting while another request holds it (as tusd does): until
        it is released (then that request moved the offset: 409) or its lease lapses (a
        replica died mid-PATCH), at most one lease. A client without `Expect:
        100-continue` would otherwise send its whole chunk for each 423."""
        deadline = time.monotonic() + self.lease_seconds
        while True:
            try:
                return await self.jobs.hold(
                    self.job_id, token=self.token, offset=offset, lease_seconds=self.lease_seconds
                )
            except LockConflict as conflict:
                refused = refusal(conflict.current, offset)
                if not isinstance(refused, UploadLocked) or time.monotonic() > deadline:
                    raise refused from None
            await asyncio.sleep(POLL_SECONDS)

    @contextlib.asynccontextmanager
    async def renewed(self) -> AsyncIterator[None]:
        """Renew the lock while the block runs; release it on the way out (a no-op when
        the request's last write released it already)."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(self.lease_seconds / 3)
                await self.jobs.renew(
                    self.job_id, token=self.token, lease_seconds=self.lease_seconds
                )

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await asyncio.shield(self.jobs.release(self.job_id, token=self.token))
