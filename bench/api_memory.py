"""API streaming memory: peak RSS growth of the API process while it receives one
1 GiB upload, and the upload's throughput against a raw aiobotocore multipart upload
of the same bytes (same part size, one part in flight) from this process."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx

from bench.harness import Stat, chute_env, free_port, moto, pipeline, process
from chute_core.aws import open_clients

MiB = 1024 * 1024
TOTAL = int(os.environ.get("BENCH_STREAM_MIB", "1024")) * MiB
PART = 8 * MiB
REPEATS = int(os.environ.get("BENCH_MEMORY_REPEATS", "2"))
BLOCK = os.urandom(MiB)


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


def body() -> Iterator[bytes]:
    for _ in range(TOTAL // MiB):
        yield BLOCK


async def raw_multipart(aws: Any, bucket: str) -> float:
    async with AsyncExitStack() as stack:
        s3 = (await open_clients(stack, aws)).s3
        started = time.perf_counter()
        upload = await s3.create_multipart_upload(Bucket=bucket, Key="results/raw")
        parts, buffer, number = [], bytearray(), 1
        for block in body():
            buffer += block
            if len(buffer) >= PART:
                r = await s3.upload_part(
                    Bucket=bucket, Key="results/raw", UploadId=upload["UploadId"],
                    PartNumber=number, Body=bytes(buffer),
                )  # fmt: skip
                parts.append({"PartNumber": number, "ETag": r["ETag"]})
                buffer, number = bytearray(), number + 1
        await s3.complete_multipart_upload(
            Bucket=bucket, Key="results/raw", UploadId=upload["UploadId"],
            MultipartUpload={"Parts": parts},
        )  # fmt: skip
        return TOTAL / MiB / (time.perf_counter() - started)


def run() -> list[dict[str, Any]]:
    growth, chute_rate, raw_rate = [], [], []
    with moto() as server:
        for _ in range(REPEATS):
            with pipeline(server.url) as (aws, settings):
                port = free_port()
                env = {**chute_env(aws, settings), "CHUTE_API_PORT": str(port)}
                argv = [sys.executable, "-m", "chute_ops", "api"]
                with process(argv, ready_path="/readyz", port=port, env=env) as api:
                    httpx.post(f"{api.url}/v1/uploads", content=b"warm-up")
                    before = peak_rss(api.pid)
                    started = time.perf_counter()
                    r = httpx.post(
                        f"{api.url}/v1/uploads",
                        content=body(),
                        headers={"Content-Length": str(TOTAL)},
                        timeout=600,
                    )
                    assert r.status_code == 202, r.text
                    chute_rate.append(TOTAL / MiB / (time.perf_counter() - started))
                    growth.append((peak_rss(api.pid) - before) / MiB)
                raw_rate.append(asyncio.run(raw_multipart(aws, settings.bucket)))
    g, c, w = Stat.of(growth), Stat.of(chute_rate), Stat.of(raw_rate)
    return [
        {
            "benchmark": f"api streaming {TOTAL // MiB} MiB",
            "peak_rss_growth_mib": g.median,
            "mib_per_s": c.median,
            "raw_multipart_mib_per_s": w.median,
            "of_raw": c.median / w.median,
        }
    ]
