"""One receive batch, mixed outcomes; and never more messages held than free slots."""

import time
from pathlib import Path

from tests.conftest import ServerFactory, StackFactory
from tests.faults.conftest import recording_env
from tests.support.accounting import account
from tests.support.processes import free_port, run_chute
from tests.support.records import Records
from tests.support.uploads import upload_many, wait_terminal

CONCURRENCY = 2


def test_worker_never_holds_more_messages_than_free_slots(
    make_stack: StackFactory, servers: ServerFactory, record_file: Path
) -> None:
    stack = make_stack(visibility_timeout_seconds=30)
    api = servers("api", stack)
    job_ids = upload_many(api.url, [f"f{i}" for i in range(8)])
    sqs, url = stack.client("sqs"), stack.queue_url()
    worker = servers(
        "worker",
        stack,
        **recording_env(
            record_file,
            CHUTE_WORKER_CONCURRENCY=str(CONCURRENCY),
            CHUTE_TEST_SLEEP_SECONDS="1.5",
        ),
    )
    held: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # sample how many messages the worker holds
        attrs = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        held.append(int(attrs["ApproximateNumberOfMessagesNotVisible"]))
        states = {(stack.job(j) or {}).get("state") for j in job_ids}
        if states == {"SUCCEEDED"}:
            break
        time.sleep(0.2)
    wait_terminal(stack, job_ids, timeout=5)
    assert max(held) <= CONCURRENCY, held
    assert max(held) == CONCURRENCY, held  # it did use its slots
    result = account(stack, job_ids, [worker.log_path])
    assert (result.succeeded, result.duplicates, result.lost) == (8, 0, 0)


def test_one_batch_worker_processes_one_receive_then_exits_cleanly(
    make_stack: StackFactory, servers: ServerFactory, record_file: Path
) -> None:
    """KEDA ScaledJob mode: one Job, one message batch, exit 0."""
    stack = make_stack(visibility_timeout_seconds=30)
    api = servers("api", stack)
    job_ids = upload_many(api.url, [f"f{i}" for i in range(3)])
    # Run to completion: it may well exit before anyone could poll its readiness.
    env = {
        **stack.env,
        **recording_env(record_file, CHUTE_WORKER_ONE_BATCH="true"),
        "CHUTE_WORKER_HEALTH_PORT": str(free_port()),
    }
    worker = run_chute("worker", env=env, timeout=60)
    assert worker.returncode == 0, worker.stderr
    jobs = wait_terminal(stack, job_ids, timeout=5)
    done = [j for j in job_ids if jobs[j]["state"] == "SUCCEEDED"]
    assert done, "the batch processed nothing"
    assert len(Records.read(record_file).runs) <= 10  # at most one receive batch


def test_one_batch_worker_finishes_jobs_longer_than_the_shutdown_grace(
    make_stack: StackFactory, servers: ServerFactory, record_file: Path
) -> None:
    """A ScaledJob's batch is bounded by its Job's deadline, not by the SIGTERM grace."""
    stack = make_stack(visibility_timeout_seconds=30)
    api = servers("api", stack)
    job_ids = upload_many(api.url, ["long-1", "long-2"])
    env = {
        **stack.env,
        **recording_env(
            record_file,
            CHUTE_WORKER_ONE_BATCH="true",
            CHUTE_SHUTDOWN_GRACE_SECONDS="0.5",
            CHUTE_TEST_SLOW_PREFIX="long",
            CHUTE_TEST_SLOW_SECONDS="3",
        ),
        "CHUTE_WORKER_HEALTH_PORT": str(free_port()),
    }
    worker = run_chute("worker", env=env, timeout=60)
    assert worker.returncode == 0, worker.stderr
    jobs = wait_terminal(stack, job_ids, timeout=5)
    received = [j for j in job_ids if jobs[j]["state"] != "QUEUED"]
    assert received, "the batch received nothing"
    assert all(jobs[j]["state"] == "SUCCEEDED" for j in received), jobs
    runs = Records.read(record_file)
    assert not runs.open_pids()  # no run was cut short
    assert runs.starts() == len(received)  # and none was cancelled and run again
