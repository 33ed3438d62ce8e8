"""The job table's writes for tus uploads: the upload lock and its progress.

One PATCH at a time appends to an upload, on any API replica: it takes the job's lock
with a conditional write (the job RECEIVING, the offset the client named, no live lock),
renews it while the body streams, saves each step of progress under it, and releases
it. A replica that dies holding it leaves a lock that lapses after its lease.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from chute_core._update_expression import UpdateExpression as _Update
from chute_core.due import shard_of
from chute_core.errors import ChuteError, JobNotFound
from chute_core.job_store import JobStore, _Conflict, _from_item
from chute_core.jobs import Job, JobError, JobState, ResumableUpload, iso, utcnow

__all__ = ["LOCK_FIELDS", "LockConflict", "ResumableJobs"]

LOCK_FIELDS = ("upload_lock", "upload_lock_until")


class LockConflict(ChuteError):
    """The write's condition failed; `current` is the record as it is (None: no job)."""

    def __init__(self, job_id: str, current: Job | None) -> None:
        super().__init__(f"upload {job_id} is not as the request expected")
        self.current = current


def _progress(resumable: ResumableUpload) -> dict[str, Any]:
    return resumable.model_dump(mode="json", exclude_none=True)


class ResumableJobs(JobStore):
    async def hold(self, job_id: str, *, token: str, offset: int, lease_seconds: float) -> Job:
        """Take the upload's lock for a PATCH at `offset`; LockConflict otherwise."""
        now = utcnow()
        update = _Update(
            set_values={
                "upload_lock": token,
                "upload_lock_until": iso(now + timedelta(seconds=lease_seconds)),
            }
        )
        condition = (
            f"{update.states_in({JobState.RECEIVING})}"
            f" AND {update.name('resumable')}.{update.name('offset')} = {update.value(offset)}"
            f" AND (attribute_not_exists({update.name('upload_lock')})"
            f" OR {update.name('upload_lock_until')} < {update.value(iso(now))})"
        )
        update.names["#state"] = "state"
        return await self._conditional(job_id, update, condition)

    async def save(
        self,
        job_id: str,
        *,
        token: str,
        progress: ResumableUpload,
        lease_seconds: float | None,
    ) -> Job:
        """Record `progress`; keep the lock for `lease_seconds` more, or release it."""
        values: dict[str, Any] = {"resumable": _progress(progress)}
        if lease_seconds is not None:
            values["upload_lock_until"] = iso(utcnow() + timedelta(seconds=lease_seconds))
        update = _Update(set_values=values, remove=() if lease_seconds is not None else LOCK_FIELDS)
        return await self._conditional(job_id, update, self._held(update, token))

    async def renew(self, job_id: str, *, token: str, lease_seconds: float) -> None:
        until = iso(utcnow() + timedelta(seconds=lease_seconds))
        update = _Update(set_values={"upload_lock_until": until})
        await self._write(job_id, update, self._held(update, token), returning=False)

    async def release(self, job_id: str, *, token: str) -> None:
        """Let go of the lock if this request still holds it."""
        update = _Update(set_values={"updated_at": iso(utcnow())}, remove=LOCK_FIELDS)
        with contextlib.suppress(LockConflict):
            await self._write(job_id, update, self._held(update, token), returning=False)

    async def finish(
        self, job_id: str, *, token: str, progress: ResumableUpload, details: dict[str, Any]
    ) -> Job:
        """The last byte is stored: RECEIVING → QUEUED with what the API measured. When the
        object's event reached a worker first (the job is past RECEIVING), the details
        are recorded without touching the state."""
        values = {**details, "resumable": _progress(progress)}
        update = _Update(target=JobState.QUEUED, set_values=values, remove=LOCK_FIELDS)
        condition = f"{update.states_in({JobState.RECEIVING})} AND {self._held(update, token)}"
        try:
            return await self._conditional(job_id, update, condition)
        except LockConflict as conflict:
            if conflict.current is None or conflict.current.state is JobState.RECEIVING:
                raise
        return await self.annotate(job_id, values)

    async def expire(self, job: Job, error: JobError) -> bool:
        """FAILED for an unfinished upload past its expiry, unless a PATCH holds it or
        extended it since `job` was read; whether this call failed it."""
        assert job.resumable is not None
        now = iso(utcnow())
        update = _Update(
            target=JobState.FAILED,
            set_values={"error": error.model_dump(), "finished_at": now},
            remove=LOCK_FIELDS,
        )
        update.due(shard_of(job.job_id), None)
        condition = (
            f"{update.states_in({JobState.RECEIVING})}"
            f" AND {update.name('resumable')}.{update.name('expires')}"
            f" = {update.value(job.resumable.expires)}"
            f" AND (attribute_not_exists({update.name('upload_lock')})"
            f" OR {update.name('upload_lock_until')} < {update.value(now)})"
        )
        try:
            await self._write(job.job_id, update, condition, returning=False)
        except LockConflict:
            return False
        return True

    @staticmethod
    def _held(update: _Update, token: str) -> str:
        return f"{update.name('upload_lock')} = {update.value(token)}"

    async def _conditional(self, job_id: str, update: _Update, condition: str) -> Job:
        return _from_item(await self._write(job_id, update, condition))

    async def _write(
        self, job_id: str, update: _Update, condition: str, *, returning: bool = True
    ) -> dict[str, Any]:
        try:
            return await self._apply(job_id, update, condition, returning=returning)
        except _Conflict as conflict:
            if conflict.old is None:
                raise JobNotFound(job_id) from None
            raise LockConflict(job_id, conflict.old) from None
