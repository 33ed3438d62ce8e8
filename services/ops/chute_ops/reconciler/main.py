"""Build a reconciler from settings and run it once or on an interval until SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from contextlib import AsyncExitStack

import httpx
from prometheus_client import REGISTRY, push_to_gateway, start_http_server

from chute_core.aws import QueueUrls, open_clients
from chute_core.keys import ObjectKeys
from chute_core.logs import get_logger
from chute_core.resumable_jobs import ResumableJobs
from chute_core.settings import AwsSettings, PipelineSettings, WebhookSettings, load
from chute_ops.reconciler.repairs import Repairs
from chute_ops.reconciler.run import PassReport, Reconciler
from chute_ops.settings import ReconcilerSettings
from chute_worker.dlq import Dlq
from chute_worker.webhook_delivery import WebhookSender

__all__ = ["reconcile", "summary"]

log = get_logger("chute.reconciler")


def summary(report: PassReport) -> str:
    """One line per pass: what was overdue and what was done about it."""
    actions: dict[str, int] = {}
    for repair in report.repairs:
        actions[repair.action] = actions.get(repair.action, 0) + 1
    done = ", ".join(f"{n} {action}" for action, n in sorted(actions.items())) or "nothing to do"
    return f"overdue {report.overdue}: {done} ({report.seconds:.2f} s)"


async def reconcile(
    aws: AwsSettings,
    pipeline: PipelineSettings,
    settings: ReconcilerSettings,
    *,
    every: float | None,
    on_pass: Callable[[PassReport], None] = lambda _: None,
) -> PassReport:
    """Run one pass (`every` None) or passes `every` seconds apart until SIGTERM/SIGINT;
    the last pass's report."""
    async with AsyncExitStack() as stack:
        clients = await open_clients(stack, aws)
        store = ResumableJobs.for_pipeline(clients.dynamodb, pipeline)
        queues = QueueUrls(clients.sqs)
        webhook_settings = load(WebhookSettings)
        webhooks = None
        if webhook_settings.webhook_secret is not None:
            http = await stack.enter_async_context(httpx.AsyncClient())
            webhooks = WebhookSender(webhook_settings, store, http)
        pools = list(pipeline.pool_set())
        reconciler = Reconciler(
            repairs=Repairs(
                store=store,
                s3=clients.s3,
                sqs=clients.sqs,
                queue_urls={pool.name: await queues.url(pool.queue) for pool in pools},
                max_republish=settings.reconcile_max_republish,
                webhooks=webhooks,
            ),
            dlqs=[
                Dlq(
                    sqs=clients.sqs,
                    jobs=store,
                    keys=ObjectKeys.from_settings(pipeline),
                    queue=pool.queue,
                    dlq=pool.dlq,
                )
                for pool in pools
            ],
            ddb=clients.dynamodb,
            table=pipeline.table,
            batch=settings.reconcile_batch,
        )
        if every is None:
            report = await reconciler.run_once()
            on_pass(report)
            if settings.reconciler_pushgateway:
                push_to_gateway(
                    settings.reconciler_pushgateway, job="chute-reconciler", registry=REGISTRY
                )
            return report
        if settings.reconciler_metrics_port is not None:
            start_http_server(settings.reconciler_metrics_port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        report = PassReport()
        while not stop.is_set():
            try:
                report = await reconciler.run_once()
                on_pass(report)
            except Exception as exc:  # AWS unreachable: the next pass tries again
                log.warning("reconciler_pass_failed", error=f"{type(exc).__name__}: {exc}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)  # the interval, or stop
        return report
