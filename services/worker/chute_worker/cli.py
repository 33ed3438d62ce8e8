"""`chute worker` and `chute dlq …`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Annotated, TypeVar

import typer

__all__ = ["register"]

T = TypeVar("T")

PoolOption = Annotated[
    str | None,
    typer.Option("--pool", help="The pool (CHUTE_POOLS) whose queues to use; default: CHUTE_POOL."),
]


def _with_dlq(action: Callable[..., Awaitable[T]], pool_name: str | None) -> T:
    from chute_core.aws import open_clients
    from chute_core.job_store import JobStore
    from chute_core.keys import ObjectKeys
    from chute_core.settings import AwsSettings, PipelineSettings, load
    from chute_worker.dlq import Dlq
    from chute_worker.settings import WorkerSettings

    aws, pipeline = load(AwsSettings), load(PipelineSettings)
    pool = pipeline.pool_set().get(pool_name or load(WorkerSettings).pool)

    async def run() -> T:
        async with AsyncExitStack() as stack:
            clients = await open_clients(stack, aws)
            dlq = Dlq(
                sqs=clients.sqs,
                jobs=JobStore.for_pipeline(clients.dynamodb, pipeline),
                keys=ObjectKeys.from_settings(pipeline),
                queue=pool.queue,
                dlq=pool.dlq,
            )
            return await action(dlq)

    return asyncio.run(run())


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker_command(pool: PoolOption = None) -> None:
        """Consume a pool's queue until SIGINT/SIGTERM, then drain within the grace period."""
        import uvloop

        from chute_core.logs import configure_logging
        from chute_core.settings import AwsSettings, PipelineSettings, load
        from chute_core.tracing import configure_tracing
        from chute_worker.main import main
        from chute_worker.settings import WorkerSettings

        aws, pipeline, settings = load(AwsSettings), load(PipelineSettings), load(WorkerSettings)
        if pool is not None:
            settings = settings.model_copy(update={"pool": pool})
        configure_logging()
        configure_tracing("worker")
        # uvloop: the event loop's socket and callback work in C; aiobotocore does plenty
        # of both for every AWS request (docs/performance.md: worker CPU per job).
        uvloop.run(main(aws=aws, pipeline=pipeline, settings=settings))

    dlq_app = typer.Typer(help="Inspect and recover dead-lettered messages.", no_args_is_help=True)
    app.add_typer(dlq_app, name="dlq")

    @dlq_app.command("list")
    def dlq_list(pool: PoolOption = None) -> None:
        """List the DLQ: message id, job id, reason, receive count, age."""
        letters = _with_dlq(lambda dlq: dlq.peek(), pool)
        typer.echo(f"{'MESSAGE ID':38} {'JOB ID':38} {'REASON':24} {'RECEIVES':>8} {'AGE':>8}")
        for d in letters:
            typer.echo(
                f"{d.message_id:38} {d.job_id or '-':38} {d.reason:24} "
                f"{d.receive_count:>8} {d.age_seconds:>7.0f}s"
            )
        typer.echo(f"{len(letters)} messages")

    @dlq_app.command("redrive")
    def dlq_redrive(
        all_: Annotated[bool, typer.Option("--all", help="Redrive every message.")] = False,
        job: Annotated[str | None, typer.Option("--job", help="Redrive one job's.")] = None,
        pool: PoolOption = None,
    ) -> None:
        """Move messages back to the main queue (receive -> send -> delete)."""
        if all_ == (job is not None):
            raise typer.BadParameter("give exactly one of --all or --job ID")
        moved = _with_dlq(lambda dlq: dlq.redrive(job_id=job), pool)
        typer.echo(f"redrove {len(moved)} messages")

    @dlq_app.command("purge")
    def dlq_purge(
        yes: Annotated[bool, typer.Option("--yes", help="Really delete every message.")] = False,
        pool: PoolOption = None,
    ) -> None:
        """Delete every message in the DLQ."""
        if not yes:
            raise typer.BadParameter("purging deletes every dead letter; add --yes")
        _with_dlq(lambda dlq: dlq.purge(), pool)
        typer.echo("purged")

    processors_app = typer.Typer(help="The processors this worker can run.", no_args_is_help=True)
    app.add_typer(processors_app, name="processors")

    @processors_app.command("list")
    def processors_list(
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    ) -> None:
        """Installed processors (entry points of chute.processors) and the routing rules."""
        import json

        from chute_core.settings import load
        from chute_worker.processors.registry import Registry
        from chute_worker.routing import Router
        from chute_worker.settings import WorkerSettings

        settings = load(WorkerSettings)
        registry = Registry.discover()
        router = Router(settings.worker_routes, registry)
        rows = [
            {
                "name": i.processor.spec.name,
                "kind": "cpu (pool)" if i.processor.spec.cpu_bound else "async",
                "accepts": list(i.processor.spec.accepts),
                "max_input_bytes": i.processor.spec.max_input_bytes,
                "timeout_seconds": i.processor.spec.timeout_seconds,
                "origin": i.origin,
                "description": i.processor.spec.description,
            }
            for i in registry.installed()
        ]
        if as_json:
            for row in rows:
                typer.echo(json.dumps(row))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table("NAME", "KIND", "ACCEPTS", "MAX INPUT", "TIMEOUT", "FROM", box=None)
        for row in rows:
            limit = row["max_input_bytes"]
            table.add_row(
                str(row["name"]),
                str(row["kind"]),
                ", ".join(row["accepts"]),  # type: ignore[arg-type]
                f"{limit / 2**20:.0f} MiB" if isinstance(limit, int) else "-",
                f"{row['timeout_seconds']:g} s",
                str(row["origin"]),
            )
        console = Console(width=160)
        console.print(table)
        console.print("routes (first match wins):")
        for pattern, names in router.rules:
            console.print(f"  {pattern:28} -> {', '.join(names)}", highlight=False)
