"""Scale-in never hides a message: SIGTERM an idle worker (its long poll outstanding)
while another runs, upload 20 files at once, and no job waits out a visibility timeout
(which a cancelled poll, answered by SQS to nobody, would make them do)."""

from __future__ import annotations

import signal
import time

from tests.conftest import ServerFactory, StackFactory
from tests.support.accounting import account, log_events
from tests.support.uploads import upload_many, wait_terminal

VISIBILITY = 60
FILES = 20
BOUND_SECONDS = 10.0


def test_an_idle_worker_stopped_mid_poll_hands_back_what_its_poll_brings(
    make_stack: StackFactory, servers: ServerFactory
) -> None:
    stack = make_stack(visibility_timeout_seconds=VISIBILITY)
    api = servers("api", stack)
    leaving = servers("worker", stack, CHUTE_WORKER_WAIT_SECONDS="20")
    staying = servers("worker", stack)
    leaving.proc.send_signal(signal.SIGTERM)  # idle: its 20 s long poll is outstanding
    started = time.monotonic()
    job_ids = upload_many(api.url, [f"f{i}" for i in range(FILES)])
    jobs = wait_terminal(stack, job_ids, timeout=BOUND_SECONDS)
    took = time.monotonic() - started
    assert all(j["state"] == "SUCCEEDED" for j in jobs.values()), jobs
    assert took < BOUND_SECONDS
    assert leaving.proc.wait(timeout=30) == 0
    result = account(stack, job_ids, [leaving.log_path, staying.log_path])
    assert (result.succeeded, result.duplicates, result.lost) == (FILES, 0, 0)
    handed = [e for e in log_events([leaving.log_path]) if e.get("event") == "messages_handed_back"]
    print(f"{FILES} jobs done {took:.1f}s after SIGTERM; handed back: {handed}")
