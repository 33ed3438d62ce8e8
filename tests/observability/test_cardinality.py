"""Metrics have no unbounded labels: 500 jobs across 50 tenants add no series."""

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from boto3.dynamodb.types import TypeSerializer

from chute_core.jobs import JobState, ObjectInfo, new_job, new_job_id
from tests.conftest import ServerFactory, StackFactory
from tests.support.stack import Stack
from tests.support.uploads import upload_many, wait_terminal

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-")
TENANTS = [f"tenant-{i:02d}" for i in range(50)]


OPERATION = re.compile(r'operation="[A-Za-z]+"')


def series(url: str) -> set[str]:
    """Every sample name with its labels (values dropped) on a /metrics page.

    AWS operation names are a fixed vocabulary, but some appear only under load (a
    heartbeat's ChangeMessageVisibility when a job outlasts a third of the visibility
    timeout): they are folded into one value so that timing cannot fail the test."""
    response = httpx.get(f"{url}/metrics")
    assert response.status_code == 200
    text = response.text
    return {
        OPERATION.sub('operation="*"', line.rsplit(" ", 1)[0])
        for line in text.splitlines()
        if line and line[0] != "#"
    }


def submit(stack: Stack, tenant: str) -> str:
    """A job of `tenant` as the API would record it, then its object (which notifies)."""
    job_id = new_job_id()
    key = f"incoming/{tenant}/{job_id}"
    job = new_job(
        job_id=job_id,
        tenant=tenant,
        obj=ObjectInfo(bucket=stack.pipeline.bucket, key=key),
        ttl=timedelta(days=1),
        state=JobState.QUEUED,
    )
    serializer = TypeSerializer()
    stack.client("dynamodb").put_item(
        TableName=stack.pipeline.table,
        Item={k: serializer.serialize(v) for k, v in job.model_dump(exclude_none=True).items()},
    )
    stack.client("s3").put_object(Bucket=stack.pipeline.bucket, Key=key, Body=tenant.encode())
    return job_id


def run_jobs(stack: Stack, api_url: str, per_tenant: int) -> None:
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda t: submit(stack, t), TENANTS * per_tenant))
    ids += upload_many(api_url, [f"u{i}" for i in range(per_tenant * 5)])
    for job_id in ids[:: max(1, len(ids) // 20)]:
        assert httpx.get(f"{api_url}/v1/jobs/{job_id}").status_code in (200, 404)
    jobs = wait_terminal(stack, ids, timeout=180)
    assert {jobs[j]["state"] for j in ids} == {"SUCCEEDED"}


@pytest.mark.slow
def test_series_count_does_not_grow_with_jobs_or_tenants(
    make_stack: StackFactory, servers: ServerFactory
) -> None:
    stack = make_stack(visibility_timeout_seconds=10)
    api = servers("api", stack)
    worker = servers("worker", stack, CHUTE_WORKER_CONCURRENCY="16", CHUTE_QUEUE_POLL_SECONDS="1")
    run_jobs(stack, api.url, per_tenant=1)  # 50 tenant jobs + 5 uploads: every label in use
    series(api.url)  # the first scrape adds the /metrics route's own series
    api_before, worker_before = series(api.url), series(worker.url)
    assert len(api_before) > 50
    assert len(worker_before) > 50
    run_jobs(stack, api.url, per_tenant=9)  # 450 more across the same 50 tenants
    api_after, worker_after = series(api.url), series(worker.url)
    print(f"api series {len(api_before)} -> {len(api_after)}")
    print(f"worker series {len(worker_before)} -> {len(worker_after)}")
    assert api_after == api_before
    assert worker_after == worker_before
    for name in (*api_after, *worker_after):
        assert "tenant-" not in name
        assert not UUID.search(name), name  # route templates only, never a job id
