"""One trace from upload to processing: the API's and the worker's spans (in-memory
exporter, both services in this process on real ports, moto over HTTP)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from chute_api.app import create_app
from chute_api.settings import ApiSettings
from chute_worker.health import HealthServer
from chute_worker.main import run_worker
from chute_worker.settings import WorkerSettings
from tests.support.processes import free_port
from tests.support.stack import Stack

EXPORTER = InMemorySpanExporter()
CLIENT_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture(scope="module", autouse=True)
def tracer_provider() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(provider)  # once per process: only this module installs one


@asynccontextmanager
async def services(stack: Stack) -> AsyncIterator[str]:
    port = free_port()
    api = HealthServer(  # uvicorn without signal capture, in this event loop
        uvicorn.Config(
            create_app(
                api=ApiSettings(api_port=port, auth=["none"]),
                aws=stack.aws,
                pipeline=stack.pipeline,
            ),
            host="127.0.0.1",
            port=port,
            log_config=None,
            lifespan="on",
        )
    )
    api_task = asyncio.create_task(api.serve())
    stop = asyncio.Event()
    worker_task = asyncio.create_task(
        run_worker(
            aws=stack.aws,
            pipeline=stack.pipeline,
            settings=WorkerSettings(worker_health_port=free_port(), worker_wait_seconds=1),
            stop=stop,
        )
    )
    try:
        while not api.started:
            assert not api_task.done(), api_task
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        api.should_exit = True
        await asyncio.gather(api_task, worker_task)


async def terminal(client: httpx.AsyncClient, url: str) -> dict[str, object]:
    for _ in range(400):
        job: dict[str, object] = (await client.get(url)).json()
        if job["state"] in ("SUCCEEDED", "FAILED"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never terminal")


def spans_of(job_id: str) -> tuple[ReadableSpan, ReadableSpan]:
    """(the API's server span, the worker's span) of the job; the worker's parent is
    a span the API recorded while handling the upload."""
    spans = EXPORTER.get_finished_spans()
    (worker,) = [s for s in spans if (s.attributes or {}).get("chute.job_id") == job_id]
    assert worker.parent is not None
    (parent,) = [s for s in spans if s.context.span_id == worker.parent.span_id]
    servers = [
        s
        for s in spans
        if s.kind is trace.SpanKind.SERVER and s.context.trace_id == parent.context.trace_id
    ]
    (api,) = servers
    return api, worker


@pytest.mark.asyncio
async def test_worker_span_continues_the_trace_the_api_started(stack: Stack) -> None:
    async with services(stack) as url, httpx.AsyncClient(base_url=url) as client:
        accepted = (await client.post("/v1/uploads", content=b"traced")).json()
        job = await terminal(client, accepted["status_url"])
    assert job["state"] == "SUCCEEDED"
    api, worker = spans_of(accepted["job_id"])
    assert api.name == "POST /v1/uploads"
    assert api.kind is trace.SpanKind.SERVER
    assert worker.kind is trace.SpanKind.CONSUMER
    assert worker.context.trace_id == api.context.trace_id
    assert str(job["traceparent"]).split("-")[1] == f"{api.context.trace_id:032x}"


@pytest.mark.asyncio
async def test_api_continues_the_clients_trace_through_to_the_worker(stack: Stack) -> None:
    header = f"00-{CLIENT_TRACE_ID}-00f067aa0ba902b7-01"
    async with services(stack) as url, httpx.AsyncClient(base_url=url) as client:
        accepted = (
            await client.post("/v1/uploads", content=b"traced", headers={"traceparent": header})
        ).json()
        await terminal(client, accepted["status_url"])
        stored = stack.client("s3").head_object(
            Bucket=stack.pipeline.bucket, Key=f"incoming/default/{accepted['job_id']}"
        )
    api, worker = spans_of(accepted["job_id"])
    assert f"{api.context.trace_id:032x}" == CLIENT_TRACE_ID
    assert f"{worker.context.trace_id:032x}" == CLIENT_TRACE_ID
    assert stored["Metadata"]["traceparent"].split("-")[1] == CLIENT_TRACE_ID
