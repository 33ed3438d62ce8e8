"""Noisy-neighbour isolation: a backlog of 500 slow jobs of a tenant pinned to the
`bulk` pool leaves the default pool's upload-to-done latency where it was.

Both latencies are measured here, one after the other, on the same stack: p95 of the
default pool's jobs before the backlog exists and while it is draining (the bulk pool's
queue still holds hundreds of messages when the second measurement ends)."""

from __future__ import annotations

import statistics
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerFactory, StackFactory
from tests.support.keyed import KeyedApi, keyed_api
from tests.support.polling import wait_until
from tests.support.stack import Stack

BACKLOG = 500
SAMPLES = 40
RECORDING = '{"*/*": ["tests.support.processors:Recording"]}'


def _post(client: httpx.Client, api: KeyedApi, tenant: str, body: bytes) -> str:
    r = client.post(
        f"{api.server.url}/v1/uploads",
        params={"filename": "f.txt"},
        content=body,
        headers={**api.bearer(tenant), "Content-Type": "text/plain"},
    )
    assert r.status_code == 202, r.text
    return str(r.json()["job_id"])


def _seconds(job: dict[str, object]) -> float:
    start, end = (datetime.fromisoformat(str(job[k])) for k in ("created_at", "finished_at"))
    return (end - start).total_seconds()


def _p95_of_default_jobs(stack: Stack, api: KeyedApi, client: httpx.Client) -> float:
    """Upload one job at a time and wait for it: upload-to-done from its record."""
    latencies = []
    for n in range(SAMPLES):
        job_id = _post(client, api, "t1", b"sample %d" % n)
        job = wait_until(
            lambda job_id=job_id: _succeeded(stack, job_id),
            timeout=30,
            interval=0.02,
            what=f"default job {n} done",
        )
        assert job["pool"] == "default"
        latencies.append(_seconds(job))
    return statistics.quantiles(latencies, n=20)[18]


def _succeeded(stack: Stack, job_id: str) -> dict[str, object] | None:
    job = stack.job(job_id)
    return job if job is not None and job["state"] == "SUCCEEDED" else None


def _visible(stack: Stack, queue: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_url(queue), AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


# A latency comparison needs the machine to itself: `make soak` runs it alone (in
# `make test` another test shares the two cores with one of its phases and not the other).
@pytest.mark.soak
def test_a_bulk_backlog_leaves_the_default_pools_p95_within_20_percent(
    make_stack: StackFactory, servers: ServerFactory, tmp_path: Path
) -> None:
    stack = make_stack(pools={"bulk": {}}, pool_routes=[{"pool": "bulk", "tenants": ["acme"]}])
    api = keyed_api(servers, stack, tmp_path, ["t1", "acme"])
    env = {"CHUTE_WORKER_ROUTES": RECORDING}
    servers("worker", stack, CHUTE_POOL="default", **env)
    # The bulk pool: slow jobs (2 to 4 s each), two at a time.
    servers(
        "worker",
        stack,
        CHUTE_POOL="bulk",
        CHUTE_WORKER_CONCURRENCY="2",
        CHUTE_TEST_SLEEP_SECONDS="4",
        **env,
    )
    bulk_queue = stack.pipeline.pool_set().get("bulk").queue
    with httpx.Client(timeout=30) as client:
        _p95_of_default_jobs(stack, api, client)  # warm-up: first connections, imports
        quiet = _p95_of_default_jobs(stack, api, client)
        with ThreadPoolExecutor(8) as pool:
            backlog = list(
                pool.map(lambda n: _post(client, api, "acme", b"bulk %d" % n), range(BACKLOG))
            )
        assert len(set(backlog)) == BACKLOG
        assert _visible(stack, bulk_queue) > BACKLOG - 50
        busy = _p95_of_default_jobs(stack, api, client)
        assert _visible(stack, bulk_queue) > BACKLOG / 2  # still a backlog at the end
    print(
        f"default pool p95 upload-to-done: {quiet * 1000:.0f} ms quiet, "
        f"{busy * 1000:.0f} ms with {BACKLOG} bulk jobs queued ({busy / quiet:.2f}x)"
    )
    assert busy <= quiet * 1.2
