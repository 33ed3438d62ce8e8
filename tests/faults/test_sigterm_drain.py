"""SIGTERM with 20 jobs in flight: exit 0 within the grace period; what could not
finish is released and completed by another worker at once."""

import signal
import time
from pathlib import Path

from tests.conftest import ServerFactory, StackFactory
from tests.faults.conftest import recording_env
from tests.support.accounting import account, log_events
from tests.support.polling import wait_until
from tests.support.records import Records
from tests.support.uploads import upload_many, wait_terminal

VISIBILITY = 60  # long, so "at once" cannot be the visibility timeout expiring
GRACE = 3.0
IN_FLIGHT = 20


def test_sigterm_drains_in_grace_then_releases_the_rest_to_another_worker(
    make_stack: StackFactory, servers: ServerFactory, record_file: Path
) -> None:
    stack = make_stack(visibility_timeout_seconds=VISIBILITY)
    api = servers("api", stack)
    first = servers(
        "worker",
        stack,
        **recording_env(
            record_file,
            CHUTE_WORKER_CONCURRENCY=str(IN_FLIGHT),
            CHUTE_SHUTDOWN_GRACE_SECONDS=str(GRACE),
            CHUTE_TEST_SLEEP_SECONDS="2",  # fast jobs finish inside the grace period
            CHUTE_TEST_SLOW_PREFIX="slow-",
            CHUTE_TEST_SLOW_SECONDS="600",  # slow jobs cannot
        ),
    )
    names = [f"slow-{i}" for i in range(IN_FLIGHT // 2)] + [
        f"fast-{i}" for i in range(IN_FLIGHT // 2)
    ]
    job_ids = upload_many(api.url, names)
    wait_until(
        lambda: (
            len(Records.read(record_file).open_pids()) == 1
            and Records.read(record_file).starts() == IN_FLIGHT
        ),
        timeout=30,
        what="20 jobs in flight",
    )
    sent = time.monotonic()
    first.proc.send_signal(signal.SIGTERM)
    code = first.proc.wait(timeout=GRACE + 15)
    took = time.monotonic() - sent
    assert code == 0
    assert took < GRACE + 5, f"exit took {took:.1f}s"
    released = [e for e in log_events([first.log_path]) if e.get("event") == "job_released"]
    assert len(released) == IN_FLIGHT // 2
    second = servers("worker", stack, **recording_env(record_file))
    started = time.monotonic()
    jobs = wait_terminal(stack, job_ids, timeout=VISIBILITY / 2)
    print(f"exit after SIGTERM {took:.1f}s; released jobs done {time.monotonic() - started:.1f}s")
    assert all(job["state"] == "SUCCEEDED" for job in jobs.values())
    result = account(stack, job_ids, [first.log_path, second.log_path])
    assert (result.succeeded, result.duplicates, result.lost, result.dlq) == (IN_FLIGHT, 0, 0, 0)
