"""Job status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from chute_api.deps import ReadTenantDep, RuntimeDep
from chute_api.problems import PROBLEM_RESPONSES
from chute_core.jobs import Job, JobState

__all__ = ["router"]

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


class JobPage(BaseModel):
    jobs: list[Job]
    next_cursor: str | None = None


@router.get(
    "",
    response_model=JobPage,
    response_model_exclude_none=True,
    summary="The caller's jobs, newest first",
    responses={k: PROBLEM_RESPONSES[k] for k in (400, 401, 429, 503)},
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
    responses={k: PROBLEM_RESPONSES[k] for k in (401, 404, 429, 503)},
    name="get_job",
)
async def get_job(
    runtime: RuntimeDep,
    tenant: ReadTenantDep,
    job_id: str = Path(max_length=64),
) -> Job:
    return await runtime.jobs.get(job_id, tenant=tenant)
