"""The same event delivered five times, and a job three times longer than the
visibility timeout: each is processed exactly once."""

from pathlib import Path

from tests.conftest import ServerFactory, StackFactory
from tests.faults.conftest import recording_env
from tests.support.accounting import account, log_events
from tests.support.polling import wait_until
from tests.support.records import Records
from tests.support.uploads import queue_drained, upload, wait_terminal


def test_same_event_five_times_to_three_workers_is_processed_once(
    make_stack: StackFactory, servers: ServerFactory, record_file: Path
) -> None:
    stack = make_stack(visibility_timeout_seconds=3)
    api = servers("api", stack)
    job_id = upload(api.url, "dup.bin")
    sqs, url = stack.client("sqs"), stack.queue_url()
    bodies: list[str] = []
    while not any(job_id in b for b in bodies):  # take the event (and the TestEvent) off
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2)
        for m in messages.get("Messages", []):
            bodies.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    (event,) = [b for b in bodies if job_id in b]
    for _ in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=event)
    env = recording_env(record_file, CHUTE_TEST_SLEEP_SECONDS="1")
    workers = [servers("worker", stack, **env) for _ in range(3)]
    jobs = wait_terminal(stack, [job_id], timeout=30)
    wait_until(lambda: queue_drained(stack), timeout=30, what="all five copies deleted")
    assert jobs[job_id]["state"] == "SUCCEEDED"
    assert jobs[job_id]["attempts"] == 1
    assert len(Records.read(record_file).runs[job_id]) == 1
    result = account(stack, [job_id], [w.log_path for w in workers])
    assert (result.succeeded, result.duplicates, result.lost, result.dlq) == (1, 0, 0, 0)


def test_job_three_times_the_visibility_timeout_completes_once_without_redelivery(
    make_stack: StackFactory, servers: ServerFactory, record_file: Path
) -> None:
    visibility = 2
    stack = make_stack(visibility_timeout_seconds=visibility)
    env = recording_env(
        record_file, CHUTE_TEST_SLOW_PREFIX="slow-", CHUTE_TEST_SLOW_SECONDS=str(3 * visibility)
    )
    api = servers("api", stack)
    workers = [servers("worker", stack, **env) for _ in range(2)]
    job_id = upload(api.url, "slow-1.bin")
    jobs = wait_terminal(stack, [job_id], timeout=60)
    assert jobs[job_id]["state"] == "SUCCEEDED"
    assert jobs[job_id]["attempts"] == 1
    (run,) = Records.read(record_file).runs[job_id]
    assert run.end is not None
    assert run.end - run.start >= 3 * visibility
    events = log_events(w.log_path for w in workers)
    # Redelivery would show as a second claim attempt: a conflict or a second claim.
    touching = [e["event"] for e in events if e.get("job_id") == job_id]
    assert touching.count("job_claimed") == 1
    assert "claim_conflict" not in touching
    result = account(stack, [job_id], [w.log_path for w in workers])
    assert (result.succeeded, result.duplicates, result.lost) == (1, 0, 0)
