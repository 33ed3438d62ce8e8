"""The `chute` command. Core commands live here; services add theirs through the
`chute.commands` entry-point group (each entry is a `register(app)` function)."""

from __future__ import annotations

import json
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import httpx
import typer

from chute_core import __version__
from chute_core.errors import ChuteError
from chute_core.settings import AwsSettings, PipelineSettings, load
from chute_ops.settings import ClientSettings, DevSettings

__all__ = ["app", "main"]

app = typer.Typer(
    name="chute",
    help="chute: accept uploads over HTTP, process them asynchronously.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.command()
def version() -> None:
    """Print chute's version."""
    typer.echo(__version__)


@app.command("bootstrap")
def bootstrap_command() -> None:
    """Create or reconcile the bucket, topic, pools' queues, subscriptions, notification, table."""
    from chute_ops.bootstrap import bootstrap
    from chute_ops.subscribers import SubscriberSettings

    subscribers = load(SubscriberSettings).subscribers
    changes = bootstrap(load(AwsSettings), load(PipelineSettings), subscribers)
    for change in changes:
        typer.echo(str(change))
    typer.echo(f"{len(changes)} changes" if changes else "no changes: everything is in place")


@app.command()
def iam(
    template: Annotated[Path, typer.Argument(help="A policy of iam/ (iam/worker-policy.json).")],
    account: Annotated[str, typer.Option("--account", help="The 12-digit AWS account id.")],
) -> None:
    """Print an IAM policy for this pipeline: placeholders filled, one queue per pool."""
    import json

    from chute_ops.iam import render_policy

    try:
        document = json.loads(template.read_text())
        rendered = render_policy(
            document, load(PipelineSettings), region=load(AwsSettings).region, account=account
        )
    except (OSError, ValueError) as exc:
        raise ChuteError(f"{template}: {exc}") from None
    typer.echo(json.dumps(rendered, indent=2))


@app.command()
def reconcile(
    once: Annotated[bool, typer.Option("--once", help="Run one pass and exit.")] = False,
    every: Annotated[
        float | None,
        typer.Option("--every", min=1.0, help="Run a pass every SECONDS until SIGTERM."),
    ] = None,
) -> None:
    """Find overdue jobs and repair what a hop lost (docs/reliability.md)."""
    import asyncio

    from chute_core.logs import configure_logging
    from chute_ops.reconciler.main import reconcile as run
    from chute_ops.reconciler.main import summary
    from chute_ops.settings import ReconcilerSettings

    if once == (every is not None):
        raise typer.BadParameter("give exactly one of --once or --every SECONDS")
    aws, pipeline = load(AwsSettings), load(PipelineSettings)
    settings = load(ReconcilerSettings)
    configure_logging()
    echo = lambda report: typer.echo(summary(report))  # noqa: E731
    asyncio.run(run(aws, pipeline, settings, every=every, on_pass=echo))


@app.command()
def dev() -> None:
    """Run moto, bootstrap, the API and a worker locally until Ctrl-C."""
    from chute_ops.dev import run_dev

    run_dev(load(DevSettings), load(AwsSettings), load(PipelineSettings))


def _client() -> httpx.Client:
    settings = load(ClientSettings)
    return httpx.Client(
        base_url=settings.api_url, headers=settings.headers(), timeout=httpx.Timeout(30.0)
    )


@app.command()
def upload(
    file: Annotated[Path, typer.Argument(help="The file to upload.")],
    wait: Annotated[bool, typer.Option(help="Wait until the job is terminal.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 300.0,
) -> None:
    """Upload FILE to the API (CHUTE_API_URL); print the job."""
    from chute_ops.client import upload_file, wait_for_job

    with _client() as client:
        job = upload_file(client, file, show_progress=sys.stderr.isatty())
        if wait:
            job = wait_for_job(client, job["job_id"], timeout=timeout)
    typer.echo(json.dumps(job, indent=2))


@app.command()
def status(job_id: Annotated[str, typer.Argument(help="The job's id.")]) -> None:
    """Print one job's record."""
    from chute_ops.client import get_job

    with _client() as client:
        typer.echo(json.dumps(get_job(client, job_id), indent=2))


@app.command()
def loadtest(
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="Uploads to send.")] = 100,
    rate: Annotated[
        float | None, typer.Option(min=0.1, help="Uploads per second (default: a burst).")
    ] = None,
    size: Annotated[
        list[int] | None, typer.Option(help="File sizes in bytes, used in turn (repeatable).")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Uploads in flight at once.")] = 32,
    metrics_url: Annotated[
        str | None, typer.Option(help="A worker's /metrics, for progress and the plot.")
    ] = "http://127.0.0.1:8001/metrics",
    plot: Annotated[
        Path | None, typer.Option(help="Draw the queue draining into this PNG.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for every job.")] = 600.0,
) -> None:
    """Upload COUNT files to CHUTE_API_URL, wait until every job is terminal, account."""
    import asyncio

    from chute_ops.loadtest import LoadTest

    client = load(ClientSettings)
    test = LoadTest(
        api_url=client.api_url,
        headers=client.headers(),
        metrics_url=metrics_url or None,
        count=count,
        sizes=size or [64 * 1024],
        rate=rate,
        concurrency=concurrency,
        timeout=timeout,
    )
    asyncio.run(test.run(live=sys.stderr.isatty()))
    result = asyncio.run(test.account())
    if plot is not None:
        test.plot(plot)
    latency = result["latency"]
    typer.echo(
        f"uploaded {result['uploaded']}, succeeded {result['succeeded']}, "
        f"failed {result['failed']}, lost {result['lost']}"
        + (f" (upload errors {result['upload_errors']})" if result["upload_errors"] else "")
    )
    typer.echo(
        f"upload-to-done latency p50 {latency['p50']:.2f}s, p95 {latency['p95']:.2f}s, "
        f"p99 {latency['p99']:.2f}s"
    )
    if result["lost"] or result["upload_errors"]:
        raise typer.Exit(1)


def _register_plugins() -> None:
    for entry in entry_points(group="chute.commands"):
        entry.load()(app)


def main() -> None:
    _register_plugins()
    try:
        app()
    except ChuteError as exc:
        sys.stderr.write(f"chute: error: {exc}\n")
        sys.exit(2)
    except httpx.TransportError as exc:
        sys.stderr.write(f"chute: error: cannot reach the API: {exc}\n")
        sys.exit(2)
