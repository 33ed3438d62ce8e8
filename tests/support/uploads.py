"""Upload many files through the real API, and wait for their jobs."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.support.polling import wait_until
from tests.support.stack import Stack


def upload(api_url: str, name: str, body: bytes | None = None) -> str:
    r = httpx.post(
        f"{api_url}/v1/uploads",
        params={"filename": name},
        content=body if body is not None else os.urandom(2048),
        headers={"Content-Type": "application/octet-stream"},
        timeout=60,
    )
    assert r.status_code == 202, r.text
    job_id: str = r.json()["job_id"]
    return job_id


def upload_many(api_url: str, names: list[str], *, concurrency: int = 8) -> list[str]:
    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(lambda n: upload(api_url, n), names))


def all_jobs(stack: Stack) -> dict[str, dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    d = TypeDeserializer()
    pages = (
        stack.client("dynamodb")
        .get_paginator("scan")
        .paginate(TableName=stack.pipeline.table, ConsistentRead=True)
    )
    return {
        item["job_id"]["S"]: {k: d.deserialize(v) for k, v in item.items()}
        for page in pages
        for item in page["Items"]
    }


def wait_terminal(stack: Stack, job_ids: list[str], *, timeout: float) -> dict[str, dict[str, Any]]:
    def done() -> dict[str, dict[str, Any]] | None:
        jobs = all_jobs(stack)
        states = [jobs.get(j, {}).get("state") for j in job_ids]
        return jobs if all(s in ("SUCCEEDED", "FAILED") for s in states) else None

    return wait_until(done, timeout=timeout, interval=0.5, what=f"{len(job_ids)} jobs terminal")


def queue_drained(stack: Stack, queue: str | None = None) -> bool:
    attrs = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_url(queue),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return all(v == "0" for v in attrs.values())
