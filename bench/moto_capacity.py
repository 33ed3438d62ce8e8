"""moto's own throughput here, the ceiling of every local figure, measured two ways:

- put_object: 64 KiB put_object calls from 32 concurrent aiobotocore tasks;
- job requests: the very requests one chute job makes (batched receive, the JobStore's
  conditional claim and finish, batched delete), driven straight from 32 tasks with no
  worker in between. Request types differ several-fold in cost to moto (a conditional
  UpdateItem parses two expressions), so this, not put_object, is the bound a worker
  can reach: jobs/s = this capacity / the AWS requests each job makes.
"""

from __future__ import annotations

import asyncio
import os
import time
from contextlib import AsyncExitStack
from typing import Any

from bench.harness import Stat, aws_requests_sent, moto, pipeline
from bench.worker_jobs import preload
from chute_core.aws import open_clients
from chute_core.errors import TransitionConflict
from chute_core.events import ObjectCreated, parse_body
from chute_core.job_store import JobStore
from chute_core.jobs import JobState
from chute_core.keys import ObjectKeys

SECONDS = float(os.environ.get("BENCH_MOTO_SECONDS", "5"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
JOBS = int(os.environ.get("BENCH_JOBS", "500"))
BODY = os.urandom(64 * 1024)
RESULT = {"processors": [{"name": "noop", "outcome": "succeeded", "seconds": 0.001}]}


async def hammer(aws: Any, bucket: str) -> float:
    async with AsyncExitStack() as stack:
        s3 = (await open_clients(stack, aws)).s3
        done = 0
        deadline = time.monotonic() + SECONDS

        async def task(n: int) -> None:
            nonlocal done
            i = 0
            while time.monotonic() < deadline:
                await s3.put_object(Bucket=bucket, Key=f"results/bench/{n}/{i}", Body=BODY)
                done += 1
                i += 1

        started = time.monotonic()
        await asyncio.gather(*(task(n) for n in range(32)))
        return done / (time.monotonic() - started)


async def job_requests(aws: Any, settings: Any, jobs: int) -> tuple[float, float]:
    """(jobs/s, requests/s) for `jobs` preloaded jobs, each claimed and finished with
    chute's own requests from 32 tasks: moto's capacity for what a job costs it."""
    async with AsyncExitStack() as stack:
        clients = await open_clients(stack, aws)
        sqs, store = clients.sqs, JobStore(clients.dynamodb, settings.table)
        url = (await sqs.get_queue_url(QueueName=settings.queue))["QueueUrl"]
        keys = ObjectKeys.from_settings(settings)
        done = 0
        finished = 0.0
        requests_before, requests_at_end = aws_requests_sent(), 0.0

        async def one(record: ObjectCreated) -> bool:
            """Claim and finish; False for a duplicate delivery (SQS is at-least-once,
            and moto's threads can hand one message to two concurrent receives)."""
            job_id = keys.parse_incoming(record.key)[1]
            try:
                await store.claim(job_id, owner="bench", lease_seconds=60, etag=record.etag)
            except TransitionConflict:
                return False
            await store.transition(
                job_id,
                JobState.SUCCEEDED,
                lease_owner="bench",
                set_values={"result": RESULT, "processed_etag": record.etag or ""},
                remove=("lease_owner", "lease_expires_at"),
                returning=False,
            )
            return True

        async def task() -> None:
            nonlocal done, finished, requests_at_end
            while done < jobs:
                got = await sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                )
                messages = got.get("Messages", [])
                if not messages:
                    continue
                for message in messages:
                    parsed = parse_body(message["Body"])
                    for record in parsed if isinstance(parsed, list) else []:
                        if not await one(record):
                            continue
                        done += 1
                        if done == jobs:  # not the idle polls after it
                            finished, requests_at_end = time.monotonic(), aws_requests_sent()
                await sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(messages)
                    ],
                )

        started = time.monotonic()
        await asyncio.gather(*(task() for _ in range(32)))
        seconds = (finished or time.monotonic()) - started
        requests = (requests_at_end or aws_requests_sent()) - requests_before
        return done / seconds, requests / seconds


def job_capacity(moto_url: str, jobs: int = JOBS) -> tuple[float, float]:
    """moto's capacity for chute's job requests on a fresh pipeline: (jobs/s, requests/s)."""
    with pipeline(moto_url) as (aws, settings):
        preload(aws, settings, jobs)
        return asyncio.run(job_requests(aws, settings, jobs))


def run() -> list[dict[str, Any]]:
    puts, jobs = [], []
    with moto() as server:
        for _ in range(REPEATS):
            with pipeline(server.url) as (aws, settings):
                puts.append(asyncio.run(hammer(aws, settings.bucket)))
            jobs.append(job_capacity(server.url))
    put = Stat.of(puts)
    job_rate, job_requests_rate = Stat.of([j[0] for j in jobs]), Stat.of([j[1] for j in jobs])
    return [
        {
            "benchmark": "moto alone: put_object 64 KiB, 32 tasks",
            "requests_per_s": put.median,
            "spread": put.spread,
        },
        {
            "benchmark": f"moto alone: a chute job's requests x{JOBS}, 32 tasks",
            "requests_per_s": job_requests_rate.median,
            "jobs_per_s": job_rate.median,
            "spread": job_rate.spread,
        },
    ]
