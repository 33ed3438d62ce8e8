"""Job status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from chute_api.deps import ReadTenantDep, RuntimeDep, UploadTenantDep
from chute_api.errors import JobStateConflict
from chute_api.problems import PROBLEM_RESPONSES
from chute_core.errors import TransitionConflict
from chute_core.jobs import Job, JobState, iso, utcnow

__all__ = ["router", "status_url"]

PREFIX = "/v1/jobs"
router = APIRouter(prefix=PREFIX, tags=["jobs"])


def status_url(request: Request, job_id: str) -> str:
    """The job's absolute URL: what `request.url_for("get_job", ...)` answers, without
    walking every route (Starlette tries each and raises for each miss)."""
    return f"{str(request.base_url).rstrip('/')}{PREFIX}/{job_id}"


class JobPage(BaseModel):
    jobs: list[Job]
    next_cursor: str | None = None


@router.get(
    "",
    response_model=JobPage,
    response_model_exclude_none=True,
    summary="The caller's jobs, newest first",
    responses={k: PROBLEM_RESPONSES[k] for k in (400, 401, 403, 429, 503)},
)
async def list_jobs(
    runtime: RuntimeDep,
    tenant: ReadTenantDep,
    state: Annotated[JobState | None, Query(description="Only jobs in this state")] = None,
    limit: int = Query(default=20, ge=1, le=100, description="Most jobs per page"),
    cursor: str | None = Query(
        default=None,
        max_length=2000,
        description="`next_cursor` of the previous page; a page may hold fewer than "
        "`limit` jobs when filtering, so follow it until it is absent",
    ),
) -> JobPage:
    scope = f"state={state.value if state else ''}"
    start = runtime.cursors.decode(cursor, tenant=tenant, scope=scope) if cursor else None
    jobs, last = await runtime.jobs.list_for_tenant(tenant, state=state, limit=limit, start=start)
    next_cursor = runtime.cursors.encode(last, tenant=tenant, scope=scope) if last else None
    return JobPage(jobs=jobs, next_cursor=next_cursor)


@router.get(
    "/{job_id}",
    response_model=Job,
    response_model_exclude_none=True,
    summary="One job's record",
    responses={k: PROBLEM_RESPONSES[k] for k in (400, 401, 403, 404, 429, 503)},
    name="get_job",
)
async def get_job(
    runtime: RuntimeDep,
    tenant: ReadTenantDep,
    job_id: str = Path(max_length=64),
) -> Job:
    return await runtime.jobs.get(job_id, tenant=tenant)


class ResultObject(BaseModel):
    processor: str
    name: str
    url: str


class JobResult(BaseModel):
    job_id: str
    expires_in: int
    objects: list[ResultObject]


@router.get(
    "/{job_id}/result",
    response_model=JobResult,
    summary="Short-lived download URLs of a SUCCEEDED job's result objects",
    responses={k: PROBLEM_RESPONSES[k] for k in (400, 401, 403, 404, 409, 429, 503)},
)
async def get_result(
    runtime: RuntimeDep,
    tenant: ReadTenantDep,
    job_id: str = Path(max_length=64),
) -> JobResult:
    job = await runtime.jobs.get(job_id, tenant=tenant)
    if job.state is not JobState.SUCCEEDED:
        raise JobStateConflict(
            "job-not-succeeded", f"job {job_id} is {job.state}; results exist once SUCCEEDED"
        )
    prefix = runtime.keys.result(tenant, job_id, "")
    seconds = runtime.api.result_url_seconds
    objects = []
    for step in (job.result or {}).get("processors", []):
        for key in (step.get("summary") or {}).get("objects", []):
            if not key.startswith(prefix):  # only this job's own results, ever
                continue
            url = await runtime.s3.generate_presigned_url(
                "get_object",
                Params={"Bucket": runtime.pipeline.bucket, "Key": key},
                ExpiresIn=seconds,
            )
            name = key[len(prefix) :].split("/", 1)[-1]
            objects.append(ResultObject(processor=step["name"], name=name, url=url))
    return JobResult(job_id=job_id, expires_in=seconds, objects=objects)


@router.delete(
    "/{job_id}",
    response_model=Job,
    response_model_exclude_none=True,
    summary="Cancel a job that is not processing yet, and delete its objects",
    responses={k: PROBLEM_RESPONSES[k] for k in (400, 401, 403, 404, 409, 429, 503)},
)
async def cancel_job(
    runtime: RuntimeDep,
    tenant: UploadTenantDep,
    job_id: str = Path(max_length=64),
) -> Job:
    job = await runtime.jobs.get(job_id, tenant=tenant)
    if job.state is not JobState.CANCELLED:
        try:
            job = await runtime.jobs.transition(
                job_id,
                JobState.CANCELLED,
                set_values={"finished_at": iso(utcnow())},
            )
        except TransitionConflict as conflict:
            raise JobStateConflict(
                "job-not-cancellable",
                f"job {job_id} is {conflict.current.state}: only jobs not yet processing "
                "can be cancelled",
            ) from None
    # The worker skips CANCELLED jobs; their bytes go now (again if asked twice).
    bucket = runtime.pipeline.bucket
    await runtime.s3.delete_object(Bucket=bucket, Key=job.object.key)
    listed = await runtime.s3.list_objects_v2(
        Bucket=bucket, Prefix=runtime.keys.result(tenant, job_id, "")
    )
    for item in listed.get("Contents", []):
        await runtime.s3.delete_object(Bucket=bucket, Key=item["Key"])
    return job
