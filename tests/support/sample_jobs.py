"""A job record for tests that need one without an API in front."""

from __future__ import annotations

from datetime import timedelta

from chute_core.jobs import Job, JobState, ObjectInfo, new_job, new_job_id


def sample_job(
    state: JobState = JobState.QUEUED,
    *,
    tenant: str = "default",
    size: int | None = None,
    processors: list[str] | None = None,
) -> Job:
    job = new_job(
        job_id=new_job_id(),
        tenant=tenant,
        obj=ObjectInfo(bucket="b", key="k", size=size),
        ttl=timedelta(days=1),
        state=state,
    )
    job.processors = processors
    return job
