"""moto's own throughput here, the ceiling of every local figure: 64 KiB put_object
calls from 32 concurrent aiobotocore tasks for a few seconds."""

from __future__ import annotations

import asyncio
import os
import time
from contextlib import AsyncExitStack
from typing import Any

from bench.harness import Stat, moto, pipeline
from chute_core.aws import open_clients

SECONDS = float(os.environ.get("BENCH_MOTO_SECONDS", "5"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
BODY = os.urandom(64 * 1024)


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


def run() -> list[dict[str, Any]]:
    rates = []
    with moto() as server:
        for _ in range(REPEATS):
            with pipeline(server.url) as (aws, settings):
                rates.append(asyncio.run(hammer(aws, settings.bucket)))
    stat = Stat.of(rates)
    return [
        {
            "benchmark": "moto alone: put_object 64 KiB, 32 tasks",
            "requests_per_s": stat.median,
            "spread": stat.spread,
        }
    ]
