"""The baseline the API is measured against: a minimal Starlette endpoint that does
only what an upload must (one put_object, one DynamoDB put_item) with aiobotocore.

    python -m bench.baseline_api PORT   (settings from CHUTE_* like chute's)
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chute_core.aws import open_clients
from chute_core.metrics import exposition
from chute_core.settings import AwsSettings, PipelineSettings

aws, pipeline = AwsSettings(), PipelineSettings()
clients = {}


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        opened = await open_clients(stack, aws)  # instrumented: counts its AWS requests
        clients["s3"], clients["dynamodb"] = opened.s3, opened.dynamodb
        yield


async def upload(request: Request) -> JSONResponse:
    job_id = str(uuid.uuid4())
    body = await request.body()
    await clients["s3"].put_object(
        Bucket=pipeline.bucket, Key=f"incoming/default/{job_id}", Body=body
    )
    await clients["dynamodb"].put_item(
        TableName=pipeline.table,
        Item={"job_id": {"S": job_id}, "state": {"S": "QUEUED"}, "size": {"N": str(len(body))}},
    )
    return JSONResponse({"job_id": job_id}, status_code=202)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def metrics(request: Request) -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)


app = Starlette(
    routes=[
        Route("/upload", upload, methods=["POST"]),
        Route("/readyz", healthz),
        Route("/metrics", metrics),
    ],
    lifespan=lifespan,
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
