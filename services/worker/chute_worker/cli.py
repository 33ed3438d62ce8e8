"""`chute worker`: run one worker in the foreground."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker_command() -> None:
        """Consume the queue until SIGINT/SIGTERM, then drain within the grace period."""
        import asyncio

        from chute_core.logs import configure_logging
        from chute_core.settings import AwsSettings, PipelineSettings, WorkerSettings, load
        from chute_worker.main import main

        aws, pipeline, settings = load(AwsSettings), load(PipelineSettings), load(WorkerSettings)
        configure_logging()
        asyncio.run(main(aws=aws, pipeline=pipeline, settings=settings))
