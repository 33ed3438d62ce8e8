"""The FastAPI app factory; its lifespan owns the AWS clients."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from chute_api.auth.authenticator import Authenticator
from chute_api.aws_health import AwsHealth
from chute_api.cors import Cors
from chute_api.cursors import CursorCodec
from chute_api.deps import ApiState
from chute_api.flows.direct import DirectUploads
from chute_api.flows.jobs import JobQueries
from chute_api.flows.streamed import StreamedUploads
from chute_api.flows.tus import TusUploads
from chute_api.idempotency import IdempotencyStore
from chute_api.metrics import HttpMetricsMiddleware
from chute_api.problems import install_problem_handlers
from chute_api.rate_limit import RateLimiter
from chute_api.request_id import RequestIdMiddleware
from chute_api.routes import companion, direct_uploads, health, jobs, tus, upload_page, uploads
from chute_api.s3_writer import send_bodies_uncopied
from chute_api.settings import ApiSettings
from chute_api.tenants import TenantBook
from chute_api.trace_context import TraceContextMiddleware
from chute_api.tus_protocol import TusProtocol
from chute_api.upload_budget import UploadBudget, upload_reservation
from chute_api.upload_rules import TenantRules
from chute_core import __version__
from chute_core.aws import QueueUrls, open_clients
from chute_core.keys import ObjectKeys
from chute_core.logs import get_logger
from chute_core.metrics import set_build_info
from chute_core.queue_gauges import QueueMonitor, gauged_queues
from chute_core.resumable_jobs import ResumableJobs
from chute_core.settings import AwsSettings, PipelineSettings, WebhookSettings, load

__all__ = ["create_app"]

log = get_logger(__name__)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document without its 422 responses: validation errors here are 400
    problem documents, which every route declares."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema


def _cursor_secret(api: ApiSettings) -> bytes:
    if api.cursor_secret is not None:
        return api.cursor_secret.get_secret_value().encode()
    log.warning(
        "cursor_secret_ephemeral",
        detail="CHUTE_CURSOR_SECRET is unset: list cursors work only on this replica",
    )
    return os.urandom(32)


def create_app(
    *,
    api: ApiSettings | None = None,
    aws: AwsSettings | None = None,
    pipeline: PipelineSettings | None = None,
) -> FastAPI:
    """Build the app; settings not given are read from the environment now, so a bad
    variable stops start-up rather than the first request."""
    api = api or load(ApiSettings)
    aws = aws or load(AwsSettings)
    pipeline = pipeline or load(PipelineSettings)
    webhooks = load(WebhookSettings)
    if api.tenants_file is not None:
        TenantBook.validate(api.tenants_file)  # a broken file stops start-up, not a request

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            clients = await open_clients(stack, aws)
            send_bodies_uncopied(clients.s3)
            http = await stack.enter_async_context(httpx.AsyncClient())
            keys = ObjectKeys.from_settings(pipeline)
            pools = pipeline.pool_set()
            jobs = ResumableJobs.for_pipeline(clients.dynamodb, pipeline)
            queues = QueueUrls(clients.sqs)
            aws_health = AwsHealth(
                s3=clients.s3,
                dynamodb=clients.dynamodb,
                bucket=pipeline.bucket,
                table=pipeline.table,
            )
            await aws_health.check()  # the start-up check: logged, and the first state
            ttl = timedelta(days=pipeline.job_ttl_days)
            app.state.chute = ApiState(
                settings=api,
                auth=Authenticator.from_settings(api, http),
                cursors=CursorCodec(_cursor_secret(api)),
                idempotency=IdempotencyStore(clients.dynamodb, pipeline.table),
                rules=TenantRules(api=api, tenants=TenantBook(api.tenants_file), webhooks=webhooks),
                streamed=StreamedUploads(
                    jobs=jobs,
                    s3=clients.s3,
                    keys=keys,
                    pools=pools,
                    bucket=pipeline.bucket,
                    part_bytes=api.upload_part_bytes,
                    job_ttl=ttl,
                    idle_timeout=api.upload_idle_timeout_seconds,
                ),
                direct=DirectUploads(
                    jobs=jobs,
                    s3=clients.s3,
                    keys=keys,
                    pools=pools,
                    bucket=pipeline.bucket,
                    job_ttl=ttl,
                    api=api,
                ),
                tus=TusUploads(
                    jobs=jobs,
                    s3=clients.s3,
                    keys=keys,
                    pools=pools,
                    bucket=pipeline.bucket,
                    job_ttl=ttl,
                    api=api,
                ),
                queries=JobQueries(jobs=jobs, s3=clients.s3, keys=keys, bucket=pipeline.bucket),
                aws_health=aws_health,
                upload_limit=RateLimiter(
                    "uploads",
                    per_second=api.rate_uploads_per_second,
                    burst=api.rate_uploads_burst,
                    replicas=api.api_replicas,
                ),
                read_limit=RateLimiter(
                    "reads",
                    per_second=api.rate_reads_per_second,
                    burst=api.rate_reads_burst,
                    replicas=api.api_replicas,
                ),
                upload_budget=UploadBudget(
                    total=api.api_upload_memory_bytes,
                    full_reservation=upload_reservation(api.upload_part_bytes, None),
                    wait_seconds=api.api_upload_wait_seconds,
                    retry_after_seconds=api.api_busy_retry_after_seconds,
                    unready_after=api.api_busy_unready_seconds,
                ),
            )
            # The API runs at every scale: its queue gauges keep the queue and DLQ alerts
            # alive while the workers are scaled to zero.
            monitor = QueueMonitor(
                sqs=clients.sqs,
                urls=queues,
                queues=gauged_queues(pools),
                interval=pipeline.queue_poll_seconds,
            )
            await monitor.poll()  # at start-up, like the AWS check: then every interval
            stop = asyncio.Event()
            background = [
                asyncio.create_task(monitor.run(stop, polled=True)),
                asyncio.create_task(aws_health.run(stop, pipeline.queue_poll_seconds)),
            ]
            try:
                yield
            finally:
                stop.set()
                await asyncio.gather(*background)

    app = FastAPI(
        title="chute",
        version=__version__,
        summary="Accept file uploads over HTTP and process them asynchronously.",
        lifespan=lifespan,
        # FastAPI's native OpenTelemetry spans continue the caller's W3C trace context
        # (a no-op unless chute_core.tracing installed an SDK); metrics are Prometheus.
        telemetry={"tracing": True, "metrics": False},
    )
    install_problem_handlers(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    # Outermost first: the request id must be bound before anything logs.
    app.add_middleware(TusProtocol)  # innermost: the routes see the overridden method
    app.add_middleware(HttpMetricsMiddleware)
    app.add_middleware(TraceContextMiddleware)
    app.add_middleware(RequestIdMiddleware)
    set_build_info("api")
    app.include_router(health.router)
    app.include_router(direct_uploads.router)  # /presign before /{job_id}/… routes
    app.include_router(uploads.router)
    app.include_router(jobs.router)
    app.include_router(companion.router)
    app.include_router(tus.router)
    app.include_router(upload_page.router)
    app.mount(upload_page.ASSETS, upload_page.assets(), name="upload-assets")
    if pipeline.cors_origins:
        app.add_middleware(Cors, origins=pipeline.cors_origins)
    return app
