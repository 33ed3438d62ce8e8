"""End-to-end latency at a steady 20 uploads/s for 60 s: from the API's 202 to the
job's terminal state, read from the job records (created_at -> finished_at)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from bench.harness import chute_env, free_port, moto, pipeline, process
from chute_ops.loadtest import LoadTest

RATE = 20.0
SECONDS = int(os.environ.get("BENCH_E2E_SECONDS", "60"))


def run() -> list[dict[str, Any]]:
    with moto() as server, pipeline(server.url) as (aws, settings):
        env = chute_env(aws, settings)
        api_port, worker_port = free_port(), free_port()
        api_argv = [sys.executable, "-m", "chute_ops", "api"]
        worker_argv = [sys.executable, "-m", "chute_ops", "worker"]
        worker_env = {
            **env,
            "CHUTE_WORKER_HEALTH_PORT": str(worker_port),
            "CHUTE_WORKER_ROUTES": json.dumps({"*/*": ["bench.noop:Noop"]}),
            "CHUTE_WORKER_CONCURRENCY": "32",
            "CHUTE_QUEUE_POLL_SECONDS": "1",
        }
        with (
            process(api_argv, ready_path="/readyz", port=api_port,
                    env={**env, "CHUTE_API_PORT": str(api_port)}) as api,
            process(worker_argv, ready_path="/readyz", port=worker_port, env=worker_env) as worker,
        ):  # fmt: skip
            test = LoadTest(
                api_url=api.url,
                headers={},  # the benchmark API runs with CHUTE_AUTH=none
                metrics_url=f"{worker.url}/metrics",
                count=int(RATE * SECONDS),
                sizes=[64 * 1024],
                rate=RATE,
                timeout=300,
            )
            asyncio.run(test.run(live=False))
            result = asyncio.run(test.account())
    latency = result["latency"]
    return [
        {
            "benchmark": f"end-to-end at {RATE:.0f} uploads/s for {SECONDS} s",
            "p50_s": latency["p50"],
            "p95_s": latency["p95"],
            "p99_s": latency["p99"],
            "lost": result["lost"],
            "succeeded": result["succeeded"],
        }
    ]
