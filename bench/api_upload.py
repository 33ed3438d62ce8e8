"""API CPU per upload: chute's API against the minimal baseline, same moto, same load.

1,000 uploads of 64 KiB from 32 concurrent clients, repeated; CPU seconds of the
server process from /proc (not wall time), requests/s, and the AWS requests each
upload cost (from the server's own chute_aws_requests_total counters).

chute runs as deployed: API-key authentication on every request and the per-tenant
rate limiter on (with a budget this load never exhausts), so their cost is counted.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    Stat,
    chute_env,
    cpu_seconds,
    free_port,
    moto,
    pipeline,
    process,
    scraped_aws_requests,
)
from chute_api.api_keys import hash_key, new_key

UPLOADS = int(os.environ.get("BENCH_UPLOADS", "1000"))
CLIENTS = 32
BODY = os.urandom(64 * 1024)
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
API_KEY = new_key()


async def drive(url: str, path: str, count: int) -> float:
    """Send `count` uploads from CLIENTS concurrent clients; wall seconds taken."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    headers = {"Authorization": f"Bearer {API_KEY}"}  # the baseline ignores it
    async with httpx.AsyncClient(
        base_url=url, limits=limits, timeout=60, headers=headers
    ) as client:

        async def one_client() -> None:
            while not queue.empty():
                queue.get_nowait()
                r = await client.post(
                    path, content=BODY, headers={"Content-Type": "application/octet-stream"}
                )
                assert r.status_code == 202, r.text

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(CLIENTS)))
        return time.perf_counter() - started


def measure(url: str, pid: int, path: str) -> tuple[float, float, float]:
    asyncio.run(drive(url, path, 50))  # warm-up: imports, pools, caches
    cpu0, aws0 = cpu_seconds(pid), scraped_aws_requests(url)
    wall = asyncio.run(drive(url, path, UPLOADS))
    cpu = cpu_seconds(pid) - cpu0
    return cpu * 1000 / UPLOADS, UPLOADS / wall, (scraped_aws_requests(url) - aws0) / UPLOADS


def as_deployed(env: dict[str, str], keys_file: Path) -> dict[str, str]:
    """chute's env with authentication and rate limits on, as in production."""
    keys_file.write_text(json.dumps({"default": [hash_key(API_KEY)]}))
    return {
        **env,
        "CHUTE_AUTH": "keys",
        "CHUTE_API_KEYS_FILE": str(keys_file),
        "CHUTE_RATE_UPLOADS_PER_SECOND": "100000",
        "CHUTE_RATE_UPLOADS_BURST": "100000",
    }


def run() -> list[dict[str, Any]]:
    results: dict[str, list[tuple[float, float, float]]] = {"chute": [], "baseline": []}
    with moto() as aws_server, tempfile.TemporaryDirectory() as tmp:
        for _ in range(REPEATS):
            for name in ("baseline", "chute"):  # same moto, alternating, fresh resources
                with pipeline(aws_server.url) as (aws, settings):
                    port = free_port()
                    env = chute_env(aws, settings)
                    if name == "chute":
                        argv = [sys.executable, "-m", "chute_ops", "api"]
                        env = as_deployed(env, Path(tmp) / "api-keys.json")
                        env["CHUTE_API_PORT"] = str(port)
                        path = "/v1/uploads"
                    else:
                        argv = [sys.executable, "-m", "bench.baseline_api", str(port)]
                        path = "/upload"
                    with process(argv, ready_path="/readyz", port=port, env=env) as server:
                        results[name].append(measure(server.url, server.pid, path))
    rows = []
    for name, samples in results.items():
        cpu, rate, aws = (Stat.of([s[i] for s in samples]) for i in range(3))
        rows.append(
            {
                "benchmark": f"api upload 64 KiB x{UPLOADS}, {CLIENTS} clients: {name}"
                + (" (API keys, rate limits on)" if name == "chute" else ""),
                "cpu_s_per_1000": cpu.median,
                "cpu_spread": cpu.spread,
                "uploads_per_s": rate.median,
                "aws_requests_per_upload": aws.median,
            }
        )
    ratio = rows[0]["cpu_s_per_1000"] / rows[1]["cpu_s_per_1000"]
    rows[0]["ratio_to_baseline"] = ratio
    rows[1]["ratio_to_baseline"] = 1.0
    return rows
