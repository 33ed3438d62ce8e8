"""No accepted job is ever stranded: whichever hop loses something, the reconciler
(`chute reconcile --every`) ends every job. Real API, worker and reconciler processes
against moto over HTTP; each test prints its accounting line."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerFactory, StackFactory
from tests.faults.conftest import recording_env
from tests.support.accounting import account, log_events
from tests.support.polling import wait_until
from tests.support.processes import Server
from tests.support.reconciling import (
    FAST,
    moto_port,
    repaired_jobs,
    silence_the_bucket,
    visible,
)
from tests.support.records import Records
from tests.support.stack import Stack
from tests.support.uploads import all_jobs, upload_many, wait_terminal
from tests.support.write_trap import write_trap

MiB = 1024 * 1024


def failed_by_code(stack: Stack, job_ids: list[str]) -> Counter[str]:
    return Counter(
        (stack.job(j) or {}).get("error", {}).get("code", "-")
        for j in job_ids
        if (stack.job(j) or {}).get("state") == "FAILED"
    )


def slow_body(chunks: int, stop: threading.Event) -> Iterator[bytes]:
    chunk = b"x" * MiB
    for _ in range(chunks):
        if stop.wait(0.1):  # a client sending about 10 MiB/s, until told to stop
            return
        yield chunk


@pytest.mark.slow
def test_api_sigkilled_mid_stream_fails_every_upload_interrupted_and_leaves_no_part(
    make_stack: StackFactory, servers: ServerFactory
) -> None:
    stack = make_stack()
    api = servers("api", stack, **FAST, CHUTE_UPLOAD_PART_BYTES=str(5 * MiB))
    servers("reconciler", stack, **FAST)
    stop = threading.Event()

    def send() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the API dies under it
            httpx.post(f"{api.url}/v1/uploads", content=slow_body(200, stop), timeout=120)

    clients = [threading.Thread(target=send) for _ in range(5)]
    for client in clients:
        client.start()
    try:
        wait_until(
            lambda: (
                len(stack.multipart_uploads()) == 5
                and [j["state"] for j in all_jobs(stack).values()] == ["RECEIVING"] * 5
            ),
            timeout=60,
            what="5 uploads streaming parts",
        )
        api.proc.kill()
        api.proc.wait()
    finally:
        stop.set()
        for client in clients:
            client.join()
    job_ids = list(all_jobs(stack))
    jobs = wait_terminal(stack, job_ids, timeout=60)
    assert {jobs[j]["error"]["code"] for j in job_ids} == {"upload_interrupted"}
    assert stack.multipart_uploads() == []
    print(f"failed by code {dict(failed_by_code(stack, job_ids))}")
    result = account(stack, job_ids, [])
    assert (result.uploaded, result.failed, result.lost) == (5, 5, 0)


@pytest.mark.slow
def test_api_killed_between_storing_the_object_and_its_queued_write_the_job_succeeds(
    make_stack: StackFactory, servers: ServerFactory, record_file: Path
) -> None:
    stack = make_stack()
    silence_the_bucket(stack)  # and the object's event is lost too: only the reconciler is left
    victim: dict[str, Server] = {}

    def queued_write(operation: str, body: bytes) -> bool:
        return operation == "UpdateItem" and b'"QUEUED"' in body and b'"RECEIVING"' in body

    def kill_the_api() -> None:
        victim["api"].proc.kill()

    with write_trap(moto_port(stack), queued_write, kill_the_api) as trap:
        api = servers(
            "api",
            stack,
            **FAST,
            CHUTE_DYNAMODB_ENDPOINT_URL=trap.url,
            CHUTE_UPLOAD_PART_BYTES=str(5 * MiB),
        )
        victim["api"] = api
        servers("worker", stack, **recording_env(record_file))
        reconciler = servers("reconciler", stack, **FAST)
        with pytest.raises(httpx.HTTPError):
            httpx.post(f"{api.url}/v1/uploads", content=b"y" * (12 * MiB), timeout=60)
        assert trap.sprung.is_set()
    api.proc.wait()
    (job_id,) = all_jobs(stack)
    assert stack.keys(f"{stack.pipeline.incoming_prefix}")  # the object was stored
    jobs = wait_terminal(stack, [job_id], timeout=60)
    assert jobs[job_id]["state"] == "SUCCEEDED"
    assert len(Records.read(record_file).runs[job_id]) == 1
    repairs = [
        e for e in log_events([reconciler.log_path]) if e.get("event") == "reconciler_repair"
    ]
    assert [(e["state"], e["action"]) for e in repairs] == [("RECEIVING", "queued")]
    account(stack, [job_id], [])


@pytest.mark.slow
def test_fifty_uploads_whose_queue_was_purged_all_succeed_exactly_once(
    make_stack: StackFactory, servers: ServerFactory, record_file: Path
) -> None:
    stack = make_stack()
    api = servers("api", stack, **FAST)
    job_ids = upload_many(api.url, [f"p{i}" for i in range(50)])
    wait_until(lambda: visible(stack) >= 50, timeout=30, what="50 events in the queue")
    stack.client("sqs").purge_queue(QueueUrl=stack.queue_url())
    wait_until(lambda: visible(stack) == 0, timeout=30, what="queue purged")
    workers = [servers("worker", stack, **recording_env(record_file)) for _ in range(2)]
    reconciler = servers("reconciler", stack, **FAST)
    jobs = wait_terminal(stack, job_ids, timeout=90)
    assert {jobs[j]["state"] for j in job_ids} == {"SUCCEEDED"}
    runs = Records.read(record_file).runs
    assert all(len(runs[j]) == 1 for j in job_ids)
    assert all(jobs[j]["attempts"] == 1 for j in job_ids)
    expected = {f"results/default/{j}/recording/summary.json" for j in job_ids}
    assert set(stack.keys("results/")) == expected
    republished = repaired_jobs(reconciler, "republished")
    assert sorted(republished) == sorted(job_ids)
    result = account(stack, job_ids, [w.log_path for w in workers])
    assert (result.succeeded, result.duplicates, result.lost) == (50, 0, 0)
