"""Job queries and cancel: one tenant's jobs, one job, its result objects, cancelling."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chute_api.errors import JobStateConflict
from chute_core.errors import TransitionConflict
from chute_core.job_store import JobStore
from chute_core.jobs import Job, JobState, iso, utcnow
from chute_core.keys import ObjectKeys

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["JobQueries", "ResultLink"]


@dataclass(frozen=True)
class ResultLink:
    processor: str
    name: str
    url: str


@dataclass(frozen=True)
class JobQueries:
    jobs: JobStore
    s3: S3Client
    keys: ObjectKeys
    bucket: str

    async def get(self, job_id: str, *, tenant: str) -> Job:
        return await self.jobs.get(job_id, tenant=tenant)

    async def page(
        self,
        tenant: str,
        *,
        state: JobState | None,
        limit: int,
        start: Mapping[str, str] | None,
        pool: str | None = None,
    ) -> tuple[list[Job], dict[str, str] | None]:
        return await self.jobs.list_for_tenant(
            tenant, state=state, pool=pool, limit=limit, start=start
        )

    async def result_links(self, job_id: str, *, tenant: str, seconds: int) -> list[ResultLink]:
        """Short-lived download URLs of a SUCCEEDED job's result objects."""
        job = await self.jobs.get(job_id, tenant=tenant)
        if job.state is not JobState.SUCCEEDED:
            raise JobStateConflict(
                "job-not-succeeded", f"job {job_id} is {job.state}; results exist once SUCCEEDED"
            )
        prefix = self.keys.result(tenant, job_id, "")
        links = []
        for step in job.result.processors if job.result else []:
            for key in step.objects:
                if not key.startswith(prefix):  # only this job's own results, ever
                    continue
                url = await self.s3.generate_presigned_url(
                    "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=seconds
                )
                name = key[len(prefix) :].split("/", 1)[-1]
                links.append(ResultLink(processor=step.name, name=name, url=url))
        return links

    async def cancel(self, job_id: str, *, tenant: str) -> Job:
        """Cancel a job not yet processing and delete its objects (again if asked twice)."""
        job = await self.jobs.get(job_id, tenant=tenant)
        if job.state is not JobState.CANCELLED:
            try:
                job = await self.jobs.transition(
                    job_id, JobState.CANCELLED, set_values={"finished_at": iso(utcnow())}
                )
            except TransitionConflict as conflict:
                raise JobStateConflict(
                    "job-not-cancellable",
                    f"job {job_id} is {conflict.current.state}: only jobs not yet processing "
                    "can be cancelled",
                ) from None
        # The worker skips CANCELLED jobs; their bytes go now.
        await self.s3.delete_object(Bucket=self.bucket, Key=job.object.key)
        listed = await self.s3.list_objects_v2(
            Bucket=self.bucket, Prefix=self.keys.result(tenant, job_id, "")
        )
        for item in listed.get("Contents", []):
            await self.s3.delete_object(Bucket=self.bucket, Key=item["Key"])
        return job
