"""Liveness and readiness probes (unauthenticated)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from chute_api.deps import AwsHealthDep, UploadBudgetDep
from chute_core.metrics import exposition

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics() -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The process takes requests: not while its upload memory budget has been "
    "full for CHUTE_API_BUSY_UNREADY_SECONDS (AWS reachability is reported, never required)",
)
async def readyz(aws_health: AwsHealthDep, budget: UploadBudgetDep) -> JSONResponse:
    checks = dict(aws_health.last)
    full_for = budget.exhausted_for()
    checks["upload_budget"] = f"full for {full_for:.1f} s" if full_for else "ok"
    return JSONResponse(
        # fail_fast: the dependencies whose requests get 503 at once (aws_health.py)
        {"ready": budget.ready, "checks": checks, "fail_fast": aws_health.failing_fast()},
        status_code=200 if budget.ready else 503,
    )
