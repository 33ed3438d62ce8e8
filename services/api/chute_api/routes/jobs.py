"""Job queries and cancel (flows/jobs.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel

from chute_api.deps import (
    CursorsDep,
    JobQueriesDep,
    ReadTenantDep,
    SettingsDep,
    UploadTenantDep,
    aws_available,
)
from chute_api.problems import PROBLEM_RESPONSES
from chute_core.jobs import Job, JobState
from chute_core.pools import POOL_NAME

__all__ = ["router", "status_url"]

PREFIX = "/v1/jobs"
router = APIRouter(prefix=PREFIX, tags=["jobs"], dependencies=[Depends(aws_available)])


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
    queries: JobQueriesDep,
    cursors: CursorsDep,
    tenant: ReadTenantDep,
    state: Annotated[JobState | None, Query(description="Only jobs in this state")] = None,
    pool: Annotated[
        str | None,
        Query(pattern=POOL_NAME, description="Only jobs of this worker pool (`default`, …)"),
    ] = None,
    limit: int = Query(default=20, ge=1, le=100, description="Most jobs per page"),
    cursor: str | None = Query(
        default=None,
        max_length=2000,
        description="`next_cursor` of the previous page; a page may hold fewer than "
        "`limit` jobs when filtering, so follow it until it is absent",
    ),
) -> JobPage:
    # "shards": positions in the sharded tenant index; a cursor from before it is refused.
    scope = f"shards&state={state.value if state else ''}"
    if pool is not None:  # a cursor is only good for the listing it came from
        scope += f"&pool={pool}"
    start = cursors.decode(cursor, tenant=tenant, scope=scope) if cursor else None
    jobs, last = await queries.page(tenant, state=state, pool=pool, limit=limit, start=start)
    next_cursor = cursors.encode(last, tenant=tenant, scope=scope) if last else None
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
    queries: JobQueriesDep,
    tenant: ReadTenantDep,
    job_id: str = Path(max_length=64),
) -> Job:
    return await queries.get(job_id, tenant=tenant)


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
    queries: JobQueriesDep,
    settings: SettingsDep,
    tenant: ReadTenantDep,
    job_id: str = Path(max_length=64),
) -> JobResult:
    seconds = settings.result_url_seconds
    links = await queries.result_links(job_id, tenant=tenant, seconds=seconds)
    objects = [ResultObject(processor=x.processor, name=x.name, url=x.url) for x in links]
    return JobResult(job_id=job_id, expires_in=seconds, objects=objects)


@router.delete(
    "/{job_id}",
    response_model=Job,
    response_model_exclude_none=True,
    summary="Cancel a job that is not processing yet, and delete its objects",
    responses={k: PROBLEM_RESPONSES[k] for k in (400, 401, 403, 404, 409, 429, 503)},
)
async def cancel_job(
    queries: JobQueriesDep,
    tenant: UploadTenantDep,
    job_id: str = Path(max_length=64),
) -> Job:
    return await queries.cancel(job_id, tenant=tenant)
