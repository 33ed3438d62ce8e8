"""Liveness and readiness probes (unauthenticated)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from chute_api.deps import ReadinessDep
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
    summary="S3 and DynamoDB are reachable",
    responses={503: {"description": "A dependency is unreachable"}},
)
async def readyz(readiness: ReadinessDep) -> JSONResponse:
    status = await readiness.check()
    ready = all(v == "ok" for v in status.values())
    return JSONResponse({"ready": ready, "checks": status}, status_code=200 if ready else 503)
