"""Liveness and readiness probes (unauthenticated)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from chute_api.deps import AwsHealthDep
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
    summary="The process serves requests (AWS reachability is reported, never required)",
)
async def readyz(aws_health: AwsHealthDep) -> JSONResponse:
    return JSONResponse({"ready": True, "checks": aws_health.last})
