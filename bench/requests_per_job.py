"""AWS requests per job, by upload path and by operation: the inputs of docs/capacity.md.

One API and one worker (default routes: text goes to `inspect`), on one moto. For each
upload path, JOBS jobs are uploaded one at a time and awaited (the bench watches the
table with its own uncounted client); the API's and the worker's own
chute_aws_requests_total counters, read before and after, give what each job cost. The
client's own requests straight to S3 (presigned POST, part PUTs) are counted by the
bench. Time-driven requests (the worker's long polls, the queue gauges' reads) are
counted too, at this pace; docs/capacity.md says what they cost at scale.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from bench.harness import chute_env, free_port, moto, pipeline, process
from chute_core.aws import sync_client

JOBS = int(os.environ.get("BENCH_REQUEST_JOBS", "20"))
MiB = 1024 * 1024
PART = 5 * MiB
SMALL = b"a,b\n1,2\n" * 512  # 4 KiB of text: one object, no multipart
LARGE = os.urandom(11 * MiB)  # three 5 MiB parts
TUS = {"Tus-Resumable": "1.0.0"}
SAMPLE = re.compile(r'^chute_aws_requests_total\{operation="(\w+)",service="([\w-]+)"\} (\S+)$')


def _counters(url: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if m := SAMPLE.match(line):
            found[f"{m.group(2)}:{m.group(1)}"] += float(m.group(3))  # type: ignore[assignment]
    return found


def _streamed(body: bytes) -> Callable[[httpx.Client], tuple[str, int]]:
    def upload(api: httpx.Client) -> tuple[str, int]:
        r = api.post("/v1/uploads", content=body, headers={"Content-Type": "text/csv"})
        assert r.status_code == 202, r.text
        return str(r.json()["job_id"]), 0

    return upload


def _presigned(body: bytes) -> Callable[[httpx.Client], tuple[str, int]]:
    def upload(api: httpx.Client) -> tuple[str, int]:
        plan = api.post(
            "/v1/uploads/presign",
            json={"filename": "f.csv", "content_type": "text/csv", "size": len(body)},
        ).json()
        if plan["method"] == "POST":
            httpx.post(
                plan["post"]["url"], data=plan["post"]["fields"], files={"file": body}
            ).raise_for_status()
            return str(plan["job_id"]), 1
        size, etags = plan["part_size"], []
        for part in plan["parts"]:
            n = part["part_number"]
            r = httpx.put(part["url"], content=body[(n - 1) * size : n * size])
            etags.append({"part_number": n, "etag": r.raise_for_status().headers["etag"]})
        api.post(plan["complete_url"], json={"parts": etags}).raise_for_status()
        return str(plan["job_id"]), len(plan["parts"])

    return upload


def _tus(body: bytes) -> Callable[[httpx.Client], tuple[str, int]]:
    def upload(api: httpx.Client) -> tuple[str, int]:
        meta = "filetype dGV4dC9jc3Y="  # text/csv
        created = api.post(
            "/v1/tus/", headers={**TUS, "Upload-Length": str(len(body)), "Upload-Metadata": meta}
        )
        assert created.status_code == 201, created.text
        location = created.headers["location"]
        for offset in range(0, len(body), PART):
            r = api.patch(
                location,
                content=body[offset : offset + PART],
                headers={
                    **TUS,
                    "Content-Type": "application/offset+octet-stream",
                    "Upload-Offset": str(offset),
                },
            )
            assert r.status_code == 204, r.text
        return location.rstrip("/").rsplit("/", 1)[1], 0

    return upload


PATHS: dict[str, tuple[Callable[[httpx.Client], tuple[str, int]], int]] = {
    "streamed 4 KiB": (_streamed(SMALL), JOBS),
    "streamed 11 MiB (multipart)": (_streamed(LARGE), max(3, JOBS // 4)),
    "presigned POST 4 KiB": (_presigned(SMALL), JOBS),
    "presigned multipart 11 MiB": (_presigned(LARGE), max(3, JOBS // 4)),
    "tus 4 KiB (one PATCH)": (_tus(SMALL), JOBS),
    "tus 11 MiB (3 PATCHes)": (_tus(LARGE), max(3, JOBS // 4)),
}


def item_bytes(value: Any) -> int:
    """A DynamoDB item's size by DynamoDB's rules (names + values; a number about half
    its digits; 3 bytes per map or list and 1 per element): what its writes cost."""
    if isinstance(value, dict) and len(value) == 1:
        ((kind, inner),) = value.items()
        if kind in ("S", "B"):
            return len(inner.encode() if isinstance(inner, str) else inner)
        if kind == "N":
            return len(str(inner).lstrip("-").replace(".", "")) // 2 + 1
        if kind == "BOOL" or kind == "NULL":
            return 1
        if kind == "M":
            return 3 + sum(len(k.encode()) + item_bytes(v) + 1 for k, v in inner.items())
        if kind == "L":
            return 3 + sum(item_bytes(v) + 1 for v in inner)
    raise ValueError(f"not an attribute value: {value!r}")


def _wait_succeeded(ddb: Any, table: str, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        item = ddb.get_item(TableName=table, Key={"job_id": {"S": job_id}}).get("Item", {})
        state = item.get("state", {}).get("S")
        if state in ("SUCCEEDED", "FAILED"):
            assert state == "SUCCEEDED", item
            return dict(item)
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} not done in 60 s")


def run() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with moto() as aws_proc, pipeline(aws_proc.url) as (aws, settings):
        env = {
            **chute_env(aws, settings),
            "CHUTE_UPLOAD_PART_BYTES": str(PART),
            "CHUTE_PRESIGN_POST_MAX_BYTES": str(MiB),
            "CHUTE_PRESIGN_PART_BYTES": str(PART),
        }
        api_port, health_port = free_port(), free_port()
        chute = [sys.executable, "-m", "chute_ops"]
        api_env = {**env, "CHUTE_API_PORT": str(api_port)}
        worker_env = {**env, "CHUTE_WORKER_HEALTH_PORT": str(health_port)}
        ddb = sync_client("dynamodb", aws)
        with (
            process([*chute, "api"], ready_path="/readyz", port=api_port, env=api_env) as api,
            process(
                [*chute, "worker"], ready_path="/readyz", port=health_port, env=worker_env
            ) as worker,
            httpx.Client(base_url=api.url, timeout=60) as client,
        ):
            for name, (upload, jobs) in PATHS.items():
                before = _counters(api.url) + _counters(worker.url)
                client_puts = 0
                for _ in range(jobs):
                    job_id, direct = upload(client)
                    client_puts += direct
                    item = _wait_succeeded(ddb, settings.table, job_id)
                spent = (_counters(api.url) + _counters(worker.url)) - before
                per_job = {op: n / jobs for op, n in sorted(spent.items())}
                if client_puts:
                    per_job["s3:client PUT/POST"] = client_puts / jobs
                rows.append(
                    {
                        "bench": "requests_per_job",
                        "path": name,
                        "jobs": jobs,
                        "requests_per_job": round(sum(per_job.values()), 2),
                        "record_bytes": sum(len(k) + item_bytes(v) for k, v in item.items()),
                        **{op: round(n, 2) for op, n in per_job.items()},
                    }
                )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
