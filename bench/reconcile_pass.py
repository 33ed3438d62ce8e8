"""One reconciler pass over a large table: it reads the overdue jobs and nothing else.

The table holds BENCH_RECONCILE_JOBS records (100,000): most terminal (no deadline, not
in the due index), some still moving but not yet due, and BENCH_RECONCILE_OVERDUE (100)
QUEUED jobs past their deadline whose events were lost (their objects stored, the queue
empty). One `Reconciler.run_once` is measured: its AWS requests by operation (the
process's own request counter), the index entries and records it read, and its seconds;
beside it, the baseline a reconciler without the index would need: one Scan of the
table for the non-terminal jobs (pages, items read, seconds). Medians of BENCH_REPEATS
passes, each over a fresh set of overdue jobs in the same table.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from bench.harness import Stat, moto, pipeline
from chute_core.aws import open_clients
from chute_core.due import DuePolicy, shard_of
from chute_core.jobs import JobState, ObjectInfo, new_job, new_job_id
from chute_core.keys import ObjectKeys
from chute_core.metrics import AWS_REQUESTS
from chute_core.resumable_jobs import ResumableJobs
from chute_ops.reconciler.repairs import Repairs
from chute_ops.reconciler.run import Reconciler
from chute_worker.dlq import Dlq

JOBS = int(os.environ.get("BENCH_RECONCILE_JOBS", "100000"))
OVERDUE = int(os.environ.get("BENCH_RECONCILE_OVERDUE", "100"))
MOVING = JOBS // 10  # non-terminal, due later
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
_serialize = TypeSerializer().serialize


def _requests() -> Counter[str]:
    counts: Counter[str] = Counter()
    for metric in AWS_REQUESTS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                counts[f"{sample.labels['service']}.{sample.labels['operation']}"] += int(
                    sample.value
                )
    return counts


def _item(state: JobState, bucket: str, keys: ObjectKeys, due_at: int | None) -> dict[str, Any]:
    job_id = new_job_id()
    job = new_job(
        job_id=job_id,
        tenant="bench",
        obj=ObjectInfo(bucket=bucket, key=keys.incoming("bench", job_id)),
        ttl=timedelta(days=1),
        state=state,
    )
    values = job.model_dump(mode="json", exclude_none=True)
    if due_at is not None:
        values.update(due_at=due_at, due_shard=shard_of(job_id))
    return {k: _serialize(v) for k, v in values.items()}


async def _fill(clients: Any, table: str, items: list[dict[str, Any]]) -> None:
    gate = asyncio.Semaphore(8)

    async def batch(chunk: list[dict[str, Any]]) -> None:
        async with gate:
            pending: Any = {table: [{"PutRequest": {"Item": i}} for i in chunk]}
            while pending:
                answer = await clients.dynamodb.batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or None

    await asyncio.gather(*(batch(items[i : i + 25]) for i in range(0, len(items), 25)))


async def _measure(aws: Any, settings: Any) -> list[dict[str, Any]]:
    keys = ObjectKeys.from_settings(settings)
    async with AsyncExitStack() as stack:
        clients = await open_clients(stack, aws)
        later = int(time.time()) + 3600
        filled = time.monotonic()
        await _fill(
            clients,
            settings.table,
            [_item(JobState.SUCCEEDED, settings.bucket, keys, None) for _ in range(JOBS - MOVING)]
            + [_item(JobState.QUEUED, settings.bucket, keys, later) for _ in range(MOVING)],
        )
        print(f"reconcile_pass: {JOBS} records written in {time.monotonic() - filled:.0f} s")
        store = ResumableJobs(clients.dynamodb, settings.table, due=DuePolicy(600, 60))
        overdue_store = ResumableJobs(clients.dynamodb, settings.table, due=DuePolicy(-60, -60))
        url = (await clients.sqs.get_queue_url(QueueName=settings.queue))["QueueUrl"]
        await clients.sqs.purge_queue(QueueUrl=url)  # bootstrap's s3:TestEvent
        # The bucket notifies nobody: every overdue job's event is lost.
        await clients.s3.put_bucket_notification_configuration(
            Bucket=settings.bucket, NotificationConfiguration={}
        )
        reconciler = Reconciler(
            repairs=Repairs(
                store=store,
                s3=clients.s3,
                sqs=clients.sqs,
                queue_urls={"default": url},
                max_republish=5,
            ),
            dlqs=[
                Dlq(
                    sqs=clients.sqs,
                    jobs=store,
                    keys=keys,
                    queue=settings.queue,
                    dlq=settings.dlq_name,
                )
            ],
            ddb=clients.dynamodb,
            table=settings.table,
            batch=1000,
        )
        passes, scans = [], []
        for _ in range(REPEATS):
            for _ in range(OVERDUE):  # stored objects whose events were lost
                job = new_job(
                    job_id=(job_id := new_job_id()),
                    tenant="bench",
                    obj=ObjectInfo(bucket=settings.bucket, key=keys.incoming("bench", job_id)),
                    ttl=timedelta(days=1),
                    state=JobState.QUEUED,
                )
                await overdue_store.create(job)
                await clients.s3.put_object(Bucket=settings.bucket, Key=job.object.key, Body=b"x")
            before, started = _requests(), time.monotonic()
            report = await reconciler.run_once()
            seconds = time.monotonic() - started
            sent = _requests() - before
            passes.append((seconds, sent, report.overdue, report.count("republished")))
            started, pages, read = time.monotonic(), 0, 0
            start: Any = None
            while True:  # the baseline: find the non-terminal jobs without the index
                params: dict[str, Any] = {
                    "TableName": settings.table,
                    "FilterExpression": "#s <> :done",
                    "ExpressionAttributeNames": {"#s": "state"},
                    "ExpressionAttributeValues": {":done": {"S": "SUCCEEDED"}},
                }
                if start:
                    params["ExclusiveStartKey"] = start
                page = await clients.dynamodb.scan(**params)
                pages += 1
                read += int(page.get("ScannedCount", 0))
                start = page.get("LastEvaluatedKey")
                if not start:
                    break
            scans.append((time.monotonic() - started, pages, read))
            while got := (  # a worker takes the re-sent events: the next pass starts clean
                await clients.sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
                )
            ).get("Messages"):
                await clients.sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(got)
                    ],
                )
        sent_last = passes[-1][1]
        return [
            {
                "benchmark": f"reconciler pass: {JOBS} records, {OVERDUE} overdue (lost events)",
                "seconds": Stat.of([p[0] for p in passes]).median,
                "requests": sum(sent_last.values()),
                "dynamodb_reads": sent_last["dynamodb.Query"] + sent_last["dynamodb.GetItem"],
                "index_queries": sent_last["dynamodb.Query"],
                "records_read": sent_last["dynamodb.GetItem"],
                "overdue_found": passes[-1][2],
                "republished": passes[-1][3],
                "by_operation": dict(sorted(sent_last.items())),
            },
            {
                "benchmark": f"baseline: Scan of {JOBS} records for the non-terminal ones",
                "seconds": Stat.of([s[0] for s in scans]).median,
                "requests": scans[-1][1],
                "items_read": scans[-1][2],
            },
        ]


def run() -> list[dict[str, Any]]:
    with moto() as server, pipeline(server.url) as (aws, settings):
        return asyncio.run(_measure(aws, settings))
