"""A job failed by a transiently broken processor is redriven from the DLQ with
`chute dlq redrive` and then succeeds."""

import subprocess
from pathlib import Path

from tests.conftest import ServerFactory, StackFactory
from tests.support.accounting import account, dlq_depth
from tests.support.polling import wait_until
from tests.support.processes import routes, run_chute
from tests.support.stack import Stack
from tests.support.uploads import upload, wait_terminal


def chute(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return run_chute(*args, env=stack.env)


def test_redriven_job_succeeds_once_the_processor_is_fixed(
    make_stack: StackFactory, servers: ServerFactory, tmp_path: Path
) -> None:
    stack = make_stack(visibility_timeout_seconds=1, max_receive_count=2)
    flag = tmp_path / "broken"
    flag.touch()
    api = servers("api", stack)
    worker = servers(
        "worker",
        stack,
        CHUTE_WORKER_ROUTES=routes("tests.support.processors:BrokenWhileFlag"),
        CHUTE_TEST_BROKEN_FLAG=str(flag),
        CHUTE_RETRY_BASE_SECONDS="0.5",
    )
    job_id = upload(api.url, "victim.bin")
    failed = wait_terminal(stack, [job_id], timeout=30)[job_id]
    assert failed["state"] == "FAILED"
    assert failed["error"]["code"] == "downstream_unavailable"
    wait_until(lambda: dlq_depth(stack) == 1, timeout=30, what="message dead-lettered")

    listing = chute(stack, "dlq", "list")
    assert listing.returncode == 0, listing.stderr
    (row,) = [line for line in listing.stdout.splitlines() if job_id in line]
    assert "downstream_unavailable" in row

    flag.unlink()  # the dependency is fixed
    redrive = chute(stack, "dlq", "redrive", "--job", job_id)
    assert redrive.returncode == 0, redrive.stderr
    assert redrive.stdout.strip() == "redrove 1 messages"
    wait_until(
        lambda: (stack.job(job_id) or {}).get("state") == "SUCCEEDED",
        timeout=30,
        what="redriven job succeeded",
    )
    assert dlq_depth(stack) == 0
    result = account(stack, [job_id], [worker.log_path])
    assert (result.succeeded, result.dlq, result.duplicates, result.lost) == (1, 0, 0, 0)


def test_dlq_purge_refuses_without_yes_and_empties_with_it(stack: Stack) -> None:
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=stack.queue_url(stack.pipeline.dlq_name), MessageBody="junk")
    refused = chute(stack, "dlq", "purge")
    assert refused.returncode == 2
    assert "--yes" in refused.stderr
    assert dlq_depth(stack) == 1
    purged = chute(stack, "dlq", "purge", "--yes")
    assert purged.returncode == 0, purged.stderr
    wait_until(lambda: dlq_depth(stack) == 0, timeout=10, what="DLQ empty")


def test_dlq_redrive_needs_exactly_one_of_all_or_job(stack: Stack) -> None:
    result = chute(stack, "dlq", "redrive")
    assert result.returncode == 2
    assert "exactly one of --all or --job" in result.stderr
