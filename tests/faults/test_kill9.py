"""Workers SIGKILLed at random mid-job: nothing lost, nothing held twice, no
duplicate output, and re-runs only where a holder died."""

import itertools
import random
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ServerFactory, StackFactory
from tests.faults.conftest import recording_env
from tests.support.accounting import account
from tests.support.polling import wait_until
from tests.support.processes import Server
from tests.support.records import Records
from tests.support.uploads import queue_drained, upload_many, wait_terminal

UPLOADS = 200
WORKERS = 3
KILLS = 5
VISIBILITY = 3


@pytest.mark.slow
def test_sigkill_mid_job_loses_nothing_and_never_holds_a_job_twice(
    make_stack: StackFactory, servers: ServerFactory, record_file: Path
) -> None:
    stack = make_stack(visibility_timeout_seconds=VISIBILITY)
    # ~25 s of work for 12 slots: enough to kill workers mid-job five times.
    env = recording_env(record_file, CHUTE_TEST_SLEEP_SECONDS="2", CHUTE_WORKER_CONCURRENCY="4")
    api = servers("api", stack)
    workers = [servers("worker", stack, **env) for _ in range(WORKERS)]
    every_worker: list[Server] = list(workers)
    job_ids: list[str] = []
    uploader = threading.Thread(
        target=lambda: job_ids.extend(upload_many(api.url, [f"f{i}" for i in range(UPLOADS)]))
    )
    uploader.start()
    rng = random.Random(20261129)
    killed_at: dict[int, float] = {}
    try:
        for _ in range(KILLS):
            # A victim in the middle of at least one job.
            busy = wait_until(
                lambda: [w for w in workers if w.proc.pid in Records.read(record_file).open_pids()],
                timeout=60,
                what="a worker mid-job",
            )
            victim = rng.choice(busy)
            victim.proc.kill()
            victim.proc.wait()
            killed_at[victim.proc.pid] = time.time()
            workers.remove(victim)
            replacement = servers("worker", stack, **env)
            workers.append(replacement)
            every_worker.append(replacement)
    finally:
        uploader.join()
    assert len(job_ids) == UPLOADS
    jobs = wait_terminal(stack, job_ids, timeout=180)
    wait_until(lambda: queue_drained(stack), timeout=60, what="queue drained")

    records = Records.read(record_file)
    assert killed_at, "no worker was killed"
    for job_id in job_ids:
        runs = sorted(records.runs[job_id], key=lambda r: r.start)
        assert runs, f"{job_id} never ran"
        # Each run ends with its end record or its process's death.
        spans = []
        for run in runs:
            end = run.end if run.end is not None else killed_at.get(run.pid)
            assert end is not None, f"{job_id}: run in {run.pid} neither ended nor was killed"
            spans.append((run.start, end, run.pid))
        for (_, end, pid), (start, _, next_pid) in itertools.pairwise(spans):
            assert start >= end, f"{job_id}: {next_pid} started while {pid} held it"
        # Only a run whose process died holding the job may be followed by another.
        # It may have recorded its end: the kill can land between the processor's end
        # and the SUCCEEDED commit (a result upload and an UpdateItem later). A run whose
        # commit landed is never followed: the claim refuses a terminal job for the same
        # object, and the accounting below finds no duplicate.
        for run in runs[:-1]:
            assert run.pid in killed_at, f"{job_id} re-ran though {run.pid} lived"
            assert run.end is None or killed_at[run.pid] >= run.end
        assert runs[-1].end is not None
        assert jobs[job_id]["state"] == "SUCCEEDED"
        assert jobs[job_id]["attempts"] >= len(runs)
    expected = {f"results/default/{j}/recording/summary.json" for j in job_ids}
    assert set(stack.keys("results/")) == expected
    reruns = sum(1 for j in job_ids if len(records.runs[j]) > 1)
    print(f"kills {len(killed_at)}, jobs re-run after a kill {reruns}")
    result = account(stack, job_ids, [w.log_path for w in every_worker])
    assert (result.succeeded, result.failed, result.dlq, result.duplicates, result.lost) == (
        UPLOADS,
        0,
        0,
        0,
        0,
    )
