"""I/O-bound concurrency: a processor that awaits 200 ms per job, at concurrency C.

The bound is C / 0.2 s jobs/s until moto becomes the limit: then it is moto's own
capacity for a job's requests (measured in this run, on the same backlog, with no
worker in between: bench.moto_capacity.job_requests) divided by the AWS requests each
chute job makes. Also the synchronous boto3 worker with the same 200 ms, for the 5x
comparison at C=32, and the minimal same-semantics worker at each C: how far the
semantics themselves (receive, claim, process, finish, delete, in series per message,
never more messages held than free slots) get on this moto."""

from __future__ import annotations

import os
from typing import Any

from bench.harness import Stat, moto
from bench.moto_capacity import job_capacity
from bench.worker_jobs import measure

WAIT = 0.2
LEVELS = [int(c) for c in os.environ.get("BENCH_IO_LEVELS", "4,8,32,128").split(",")]
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))


def run() -> list[dict[str, Any]]:
    rows = []
    env = {"BENCH_PROCESSOR_SECONDS": str(WAIT)}
    with moto() as server:
        sync_rates = [measure("sync", server.url, jobs=40, env=env)[1] for _ in range(REPEATS)]
        sync = Stat.of(sync_rates).median
        for level in LEVELS:
            jobs = max(100, level * 8)
            # moto's receive walks the whole backlog: measure its capacity on the same one.
            capacity = Stat.of([job_capacity(server.url, jobs)[1] for _ in range(REPEATS)])
            runs = {
                variant: [
                    measure(
                        variant,
                        server.url,
                        jobs=jobs,
                        env={**env, "CHUTE_WORKER_CONCURRENCY": str(level)},
                    )
                    for _ in range(REPEATS)
                ]
                for variant in ("chute", "minimal")
            }
            rate = Stat.of([r[1] for r in runs["chute"]])
            minimal = Stat.of([r[1] for r in runs["minimal"]])
            per_job = Stat.of([r[2] for r in runs["chute"]]).median
            moto_bound = capacity.median / per_job
            bound = min(level / WAIT, moto_bound)
            rows.append(
                {
                    "benchmark": f"io-bound 200 ms, C={level}",
                    "jobs_per_s": rate.median,
                    "spread": rate.spread,
                    "of_c_over_0.2s": rate.median / (level / WAIT),
                    "moto_requests_per_s": capacity.median,
                    "moto_bound_jobs_per_s": moto_bound,
                    "of_bound": rate.median / bound,
                    "limited_by": "moto" if moto_bound < level / WAIT else "concurrency",
                    "aws_requests_per_job": per_job,
                    "x_sync_boto3": rate.median / sync,
                    "minimal_jobs_per_s": minimal.median,
                    "minimal_of_c_over_0.2s": minimal.median / (level / WAIT),
                }
            )
    rows.append({"benchmark": "io-bound 200 ms, sync boto3 worker", "jobs_per_s": sync})
    return rows
