"""Liveness and readiness probes (unauthenticated)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from chute_api.deps import RuntimeDep
from chute_core.metrics import exposition

__all__ = ["router"]

router = APIRouter(tags=["health"])
READY_TIMEOUT_SECONDS = 3.0


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics() -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="S3 and DynamoDB are reachable",
    responses={503: {"description": "A dependency is unreachable"}},
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    checks = {
        "s3": runtime.s3.head_bucket(Bucket=runtime.pipeline.bucket),
        "dynamodb": runtime.dynamodb.describe_table(TableName=runtime.pipeline.table),
    }
    results = await asyncio.gather(
        *(asyncio.wait_for(c, READY_TIMEOUT_SECONDS) for c in checks.values()),
        return_exceptions=True,
    )
    status = {
        name: "ok" if not isinstance(r, BaseException) else f"error: {type(r).__name__}"
        for name, r in zip(checks, results, strict=True)
    }
    ready = all(v == "ok" for v in status.values())
    return JSONResponse({"ready": ready, "checks": status}, status_code=200 if ready else 503)
