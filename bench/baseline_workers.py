"""Hand-written workers the chute worker is measured against.

    python -m bench.baseline_workers minimal|sync|bare

minimal: the floor for chute's semantics: batched receive, one conditional claim,
    one conditional finish, batched delete, concurrent (aiobotocore).
sync:    what many users write first: boto3, one message at a time.
bare:    receive -> batched delete, nothing else: the transport floor.
Each prints "ready" once its clients exist and runs until SIGTERM; on SIGUSR1 it
prints "requests N", the AWS requests it has sent so far (chute's own counter, which
every client here is instrumented with).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import unquote_plus

from bench.harness import aws_requests_sent
from chute_core.aws import open_clients, sync_client
from chute_core.metrics import instrument_client
from chute_core.settings import AwsSettings, PipelineSettings

aws, pipeline = AwsSettings(), PipelineSettings()
CONCURRENCY = int(os.environ.get("CHUTE_WORKER_CONCURRENCY", "32"))
PROCESSOR_SECONDS = float(os.environ.get("BENCH_PROCESSOR_SECONDS", "0"))


def job_id_of(body: str) -> str | None:
    doc = json.loads(body)
    records = doc.get("Records")
    if not records:
        return None  # s3:TestEvent
    return unquote_plus(records[0]["s3"]["object"]["key"]).rsplit("/", 1)[1]


CLAIM = {
    "UpdateExpression": "SET #s = :p, lease_owner = :w",
    "ConditionExpression": "#s IN (:q, :r)",
    "ExpressionAttributeNames": {"#s": "state"},
}


async def minimal() -> None:
    async with AsyncExitStack() as stack:
        c = await open_clients(stack, aws)
        url = (await c.sqs.get_queue_url(QueueName=pipeline.queue))["QueueUrl"]
        print("ready", flush=True)
        in_flight = 0
        changed = asyncio.Condition()
        tasks: set[asyncio.Task[None]] = set()

        async def handle(message: dict[str, Any]) -> None:
            job_id = job_id_of(message["Body"])
            if not job_id:
                return
            key = {"job_id": {"S": job_id}}
            await c.dynamodb.update_item(
                TableName=pipeline.table,
                Key=key,
                ExpressionAttributeValues={
                    ":p": {"S": "PROCESSING"},
                    ":w": {"S": "me"},
                    ":q": {"S": "QUEUED"},
                    ":r": {"S": "RECEIVING"},
                },
                **CLAIM,
            )
            if PROCESSOR_SECONDS:
                await asyncio.sleep(PROCESSOR_SECONDS)  # the same processor wait
            await c.dynamodb.update_item(
                TableName=pipeline.table,
                Key=key,
                UpdateExpression="SET #s = :d REMOVE lease_owner",
                ConditionExpression="#s = :p AND lease_owner = :w",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={
                    ":d": {"S": "SUCCEEDED"},
                    ":p": {"S": "PROCESSING"},
                    ":w": {"S": "me"},
                },
            )

        async def batch(messages: list[Any]) -> None:
            nonlocal in_flight
            await asyncio.gather(*(handle(m) for m in messages))
            await c.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in messages
                ],
            )
            async with changed:
                in_flight -= len(messages)
                changed.notify()

        while True:
            async with changed:
                await changed.wait_for(lambda: in_flight < CONCURRENCY)  # noqa: B023 (reads it live)
                free = min(10, CONCURRENCY - in_flight)
            response = await c.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=free, WaitTimeSeconds=20
            )
            messages = response.get("Messages", [])
            if messages:
                in_flight += len(messages)
                task = asyncio.create_task(batch(messages))
                tasks.add(task)
                task.add_done_callback(tasks.discard)


def sync() -> None:
    sqs, ddb = sync_client("sqs", aws), sync_client("dynamodb", aws)
    for client in (sqs, ddb):
        instrument_client(client)
    url = sqs.get_queue_url(QueueName=pipeline.queue)["QueueUrl"]
    print("ready", flush=True)
    while True:
        for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages", []):
            job_id = job_id_of(m["Body"])
            if job_id:
                time.sleep(PROCESSOR_SECONDS)  # the same processor wait, blocking
                ddb.update_item(
                    TableName=pipeline.table,
                    Key={"job_id": {"S": job_id}},
                    ExpressionAttributeValues={
                        ":p": {"S": "PROCESSING"},
                        ":w": {"S": "me"},
                        ":q": {"S": "QUEUED"},
                        ":r": {"S": "RECEIVING"},
                    },
                    **CLAIM,
                )
                ddb.update_item(
                    TableName=pipeline.table,
                    Key={"job_id": {"S": job_id}},
                    UpdateExpression="SET #s = :d",
                    ConditionExpression="#s = :p",
                    ExpressionAttributeNames={"#s": "state"},
                    ExpressionAttributeValues={":d": {"S": "SUCCEEDED"}, ":p": {"S": "PROCESSING"}},
                )
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


async def bare() -> None:
    async with AsyncExitStack() as stack:
        sqs = (await open_clients(stack, aws)).sqs
        url = (await sqs.get_queue_url(QueueName=pipeline.queue))["QueueUrl"]
        print("ready", flush=True)
        while True:
            messages = (
                await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=20)
            ).get("Messages", [])
            if messages:
                await sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]}
                        for m in messages
                    ],
                )


def report_requests(*_: Any) -> None:
    print(f"requests {aws_requests_sent():.0f}", flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGUSR1, report_requests)
    kind = sys.argv[1]
    if kind == "sync":
        sync()
    else:
        asyncio.run(minimal() if kind == "minimal" else bare())
