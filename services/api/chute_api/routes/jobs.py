"""Job status."""

from __future__ import annotations

from fastapi import APIRouter, Path

from chute_api.deps import RuntimeDep, TenantDep
from chute_api.problems import PROBLEM_RESPONSES
from chute_core.jobs import Job

__all__ = ["router"]

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get(
    "/{job_id}",
    response_model=Job,
    response_model_exclude_none=True,
    summary="One job's record",
    responses={404: PROBLEM_RESPONSES[404]},
    name="get_job",
)
async def get_job(
    runtime: RuntimeDep,
    tenant: TenantDep,
    job_id: str = Path(max_length=64),
) -> Job:
    return await runtime.jobs.get(job_id, tenant=tenant)
