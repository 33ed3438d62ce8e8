"""Worker CPU per job with a no-op processor: chute against the minimal worker with
the same semantics (a), a synchronous boto3 worker (b) and a bare receive/delete
loop (c), on the same moto with the same preloaded backlog.

Each worker starts on an empty queue, is frozen (SIGSTOP) while the backlog is
loaded, then thawed; CPU (from /proc) and wall time run from the thaw until the
queue is empty. AWS requests per job come from the process's own counters where it
has them (chute, a)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from bench.harness import (
    REPO,
    Stat,
    chute_env,
    cpu_seconds,
    free_port,
    moto,
    pipeline,
    scraped_aws_requests,
    wait_ready,
)
from chute_core.aws import sync_client
from chute_core.jobs import JobState, ObjectInfo, new_job, new_job_id

JOBS = int(os.environ.get("BENCH_JOBS", "500"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
VARIANTS = ["chute", "minimal", "sync", "bare"]


def preload(aws: Any, settings: Any, count: int) -> None:
    ddb, s3 = sync_client("dynamodb", aws), sync_client("s3", aws)
    serializer = TypeSerializer()

    def one(_: int) -> None:
        job_id = new_job_id()
        key = f"incoming/default/{job_id}"
        job = new_job(
            job_id=job_id,
            tenant="default",
            obj=ObjectInfo(bucket=settings.bucket, key=key),
            ttl=timedelta(days=1),
            state=JobState.QUEUED,
        )
        item = {k: serializer.serialize(v) for k, v in job.model_dump(exclude_none=True).items()}
        ddb.put_item(TableName=settings.table, Item=item)
        s3.put_object(Bucket=settings.bucket, Key=key, Body=b"x")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(count)))


class QueueDepth:
    """Messages left in the queue (visible + in flight), read with one client and URL:
    a client per poll cost this process ~10 ms of CPU and moto two requests each time."""

    def __init__(self, aws: Any, settings: Any) -> None:
        self._sqs = sync_client("sqs", aws)
        self._url = self._sqs.get_queue_url(QueueName=settings.queue)["QueueUrl"]

    def __call__(self) -> int:
        attrs = self._sqs.get_queue_attributes(
            QueueUrl=self._url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attrs.values())

    def wait_empty(self) -> None:
        """Poll seldom while much is left and often near the end (a quarter of the time
        left at the rate seen, 0.05-0.5 s): the end is timed closely without the polls
        taking a share of moto's capacity."""
        first, started = self(), time.monotonic()
        depth = first
        while depth:
            done, elapsed = first - depth, time.monotonic() - started
            left = depth * elapsed / done if done else 2.0
            time.sleep(min(0.5, max(0.05, left / 4)))
            depth = self()


def start(variant: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], str | None]:
    if variant == "chute":
        port = free_port()
        env = {
            "CHUTE_WORKER_CONCURRENCY": "32",  # unless the caller sets its own
            **env,
            "CHUTE_WORKER_HEALTH_PORT": str(port),
            "CHUTE_WORKER_ROUTES": json.dumps({"*/*": ["bench.noop:Noop"]}),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "chute_ops", "worker"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=REPO,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        wait_ready(f"{url}/readyz", proc)
        return proc, url
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.baseline_workers", variant],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc, None


def aws_requests(proc: subprocess.Popen[str], url: str | None) -> float:
    """The AWS requests the worker has sent so far: chute's from its /metrics, a
    baseline's from its answer to SIGUSR1."""
    if url is not None:
        return scraped_aws_requests(url)
    assert proc.stdout is not None
    proc.send_signal(signal.SIGUSR1)
    answer = proc.stdout.readline().split()
    assert answer[:1] == ["requests"], answer
    return float(answer[1])


def measure(
    variant: str, moto_url: str, *, jobs: int = JOBS, env: dict[str, str] | None = None
) -> tuple[float, float, float]:
    """(CPU s per 1000 jobs, jobs/s, AWS requests per job) for one run."""
    with pipeline(moto_url) as (aws, settings):
        proc, url = start(variant, {**chute_env(aws, settings), **(env or {})})
        try:
            depth = QueueDepth(aws, settings)
            depth.wait_empty()  # the s3:TestEvent of the bootstrap
            aws0 = aws_requests(proc, url)  # before the freeze: a frozen process cannot answer
            proc.send_signal(signal.SIGSTOP)
            preload(aws, settings, jobs)
            cpu0 = cpu_seconds(proc.pid)
            started = time.perf_counter()
            proc.send_signal(signal.SIGCONT)
            depth.wait_empty()
            wall = time.perf_counter() - started
            cpu = cpu_seconds(proc.pid) - cpu0
            return cpu * 1000 / jobs, jobs / wall, (aws_requests(proc, url) - aws0) / jobs
        finally:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            proc.wait(timeout=30)


def run() -> list[dict[str, Any]]:
    results: dict[str, list[tuple[float, float, float]]] = {v: [] for v in VARIANTS}
    with moto() as server:
        for _ in range(REPEATS):
            for variant in VARIANTS:
                results[variant].append(measure(variant, server.url))
    floor = Stat.of([s[0] for s in results["minimal"]]).median
    rows = []
    for variant, samples in results.items():
        cpu, rate = Stat.of([s[0] for s in samples]), Stat.of([s[1] for s in samples])
        rows.append(
            {
                "benchmark": f"worker no-op x{JOBS}: {variant}",
                "cpu_s_per_1000": cpu.median,
                "cpu_spread": cpu.spread,
                "jobs_per_s": rate.median,
                "ratio_to_minimal": cpu.median / floor,
                "aws_requests_per_job": Stat.of([s[2] for s in samples]).median,
            }
        )
    return rows
