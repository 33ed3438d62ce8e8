"""The worker process: open clients, serve health, consume until a signal."""

from __future__ import annotations

import asyncio
import signal
from contextlib import AsyncExitStack

import httpx
import uvicorn

from chute_core.aws import QueueUrls, open_clients
from chute_core.errors import ChuteError, SettingsError
from chute_core.keys import ObjectKeys
from chute_core.logs import get_logger
from chute_core.metrics import set_build_info
from chute_core.queue_gauges import QueueMonitor, gauged_queues
from chute_core.resumable_jobs import ResumableJobs
from chute_core.settings import AwsSettings, PipelineSettings, WebhookSettings, load
from chute_worker.backend import BackendHealth
from chute_worker.chain import ProcessorChain
from chute_worker.health import HealthServer, health_app
from chute_worker.loop import Worker
from chute_worker.loop_lag import watch_loop_lag
from chute_worker.pool import ProcessorPool
from chute_worker.processors.registry import Registry
from chute_worker.routing import Router
from chute_worker.runner import JobRunner
from chute_worker.settings import WorkerSettings
from chute_worker.spool import SpoolArea
from chute_worker.webhook_delivery import WebhookSender

__all__ = ["main", "run_worker"]

log = get_logger(__name__)


async def main(*, aws: AwsSettings, pipeline: PipelineSettings, settings: WorkerSettings) -> None:
    """The worker process: SIGTERM or SIGINT stops it gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run_worker(aws=aws, pipeline=pipeline, settings=settings, stop=stop)


async def run_worker(
    *,
    aws: AwsSettings,
    pipeline: PipelineSettings,
    settings: WorkerSettings,
    stop: asyncio.Event,
) -> None:
    """Consume until `stop` is set, then drain and close everything."""
    try:
        served = pipeline.pool_set().get(settings.pool)
    except ChuteError as exc:
        raise SettingsError(f"CHUTE_POOL: {exc}") from None
    registry = Registry.discover()
    router = Router(settings.worker_routes, registry)
    set_build_info("worker")
    async with AsyncExitStack() as stack:
        clients = await open_clients(stack, aws)
        pool = ProcessorPool(
            size=settings.worker_pool_size, memory_bytes=settings.worker_pool_memory_bytes
        )
        stack.callback(pool.close)
        spool = SpoolArea(settings.worker_spool_dir, settings.worker_spool_bytes)
        stack.callback(spool.close)
        keys = ObjectKeys.from_settings(pipeline)
        chain = ProcessorChain(
            registry=registry, router=router, pool=pool, spool=spool, s3=clients.s3, keys=keys
        )
        store = ResumableJobs.for_pipeline(clients.dynamodb, pipeline)
        http = await stack.enter_async_context(httpx.AsyncClient())
        webhooks = WebhookSender(load(WebhookSettings), store, http)
        runner = JobRunner(
            store=store,
            s3=clients.s3,
            keys=keys,
            pipeline=pipeline,
            settings=settings,
            chain=chain,
            webhooks=webhooks,
        )
        backend = BackendHealth()
        queue_urls = QueueUrls(clients.sqs)  # shared: each queue's URL is looked up once
        worker = Worker(
            sqs=clients.sqs,
            queues=queue_urls,
            runner=runner,
            settings=settings,
            backend=backend,
        )

        # One shutdown budget for jobs and webhooks alike, counted from the signal (or,
        # for a one-batch worker, from the batch's end): the pod's grace covers both.
        loop = asyncio.get_running_loop()
        grace_ends: list[float] = []

        async def stop_on_request() -> None:
            await stop.wait()
            grace_ends.append(loop.time() + settings.shutdown_grace_seconds)
            worker.stop()

        stopper = asyncio.create_task(stop_on_request())
        health = HealthServer(
            uvicorn.Config(
                health_app(lambda: backend.available),
                host=settings.worker_health_host,
                port=settings.worker_health_port,
                log_config=None,
                access_log=False,
                lifespan="off",
            )
        )
        health_task = asyncio.create_task(health.serve())
        monitor = QueueMonitor(
            sqs=clients.sqs,
            urls=queue_urls,
            queues=gauged_queues([served]),
            interval=pipeline.queue_poll_seconds,
            on_success=backend.succeeded,
            on_failure=lambda exc: backend.failed(exc, where="queue_attributes"),
        )
        monitor_stop = asyncio.Event()
        monitor_task = asyncio.create_task(monitor.run(monitor_stop))
        lag_task = asyncio.create_task(watch_loop_lag(monitor_stop))
        log.info(
            "worker_started",
            worker_id=settings.worker_id,
            pool=served.name,
            queue=served.queue,
            processors=registry.names(),
            routes=router.rules,
            concurrency=settings.worker_concurrency,
            pool_size=settings.worker_pool_size,
        )
        try:
            await worker.run()
        finally:
            stopper.cancel()
            monitor_stop.set()
            health.should_exit = True
            grace_end = (
                grace_ends[0] if grace_ends else loop.time() + settings.shutdown_grace_seconds
            )
            await webhooks.drain(max(0.0, grace_end - loop.time()))
            await asyncio.gather(
                health_task, monitor_task, lag_task, stopper, return_exceptions=True
            )
