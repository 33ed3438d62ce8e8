"""API memory per concurrent streaming upload: N clients each stream a 24 MiB body at
once into a fresh API process; the peak RSS growth divided by N, in parts
(CHUTE_UPLOAD_PART_BYTES, 8 MiB), is what one upload costs. The budget is off (huge)
here, so nothing waits and every upload's buffers are live at the same time.

Also, at 16 concurrent 64 KiB clients: uploads per second and API CPU per upload with
the memory budget on and off (interleaved rounds), the budget's cost."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from bench.harness import Stat, chute_env, cpu_seconds, free_port, moto, pipeline, process

MiB = 1024 * 1024
PART = 8 * MiB
SIZE = 24 * MiB
CONCURRENCY = [int(n) for n in os.environ.get("BENCH_MEMORY_CLIENTS", "1,10,50").split(",")]
BLOCK = os.urandom(256 * 1024)
SMALL = os.urandom(64 * 1024)
ROUNDS = int(os.environ.get("BENCH_BUDGET_ROUNDS", "3"))
SMALL_UPLOADS = int(os.environ.get("BENCH_BUDGET_UPLOADS", "400"))


def status_bytes(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field}")


class Sampler:
    """The process's RSS every 20 ms while the uploads run: its median is the steady
    state (a part's join is a moment of two parts; the peak shows those)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.samples, self._stop = pid, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.samples.append(status_bytes(self.pid, "VmRSS"))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def _body() -> AsyncIterator[bytes]:
    for _ in range(SIZE // len(BLOCK)):
        yield BLOCK
        await asyncio.sleep(0)


async def _uploads(url: str, clients: int) -> None:
    async with httpx.AsyncClient(timeout=600) as http:

        async def one() -> None:
            r = await http.post(
                f"{url}/v1/uploads", content=_body(), headers={"Content-Length": str(SIZE)}
            )
            assert r.status_code == 202, r.text

        await asyncio.gather(*(one() for _ in range(clients)))


async def _small(url: str, count: int, clients: int = 16) -> float:
    """Seconds for `count` 64 KiB uploads from `clients` concurrent clients."""
    queue = list(range(count))
    async with httpx.AsyncClient(timeout=60) as http:

        async def client() -> None:
            while queue:
                queue.pop()
                r = await http.post(f"{url}/v1/uploads", content=SMALL)
                assert r.status_code == 202, r.text

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return time.perf_counter() - started


def _api(env: dict[str, str]) -> Any:
    port = free_port()
    argv = [sys.executable, "-m", "chute_ops", "api"]
    return process(argv, ready_path="/readyz", port=port, env={**env, "CHUTE_API_PORT": str(port)})


def run() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with moto() as server, pipeline(server.url) as (aws, settings):
        env = {**chute_env(aws, settings), "CHUTE_LOG_LEVEL": "WARNING"}
        for clients in CONCURRENCY:
            off = {**env, "CHUTE_API_UPLOAD_MEMORY_BYTES": str(64 * 1024 * MiB)}
            with _api(off) as api:
                # Warm up on the same path: the first multipart upload loads botocore's
                # models for it and starts the checksum threads, once per process.
                asyncio.run(_uploads(api.url, 1))
                before = status_bytes(api.pid, "VmRSS")
                with Sampler(api.pid) as sampler:
                    asyncio.run(_uploads(api.url, clients))
                peak = (status_bytes(api.pid, "VmHWM") - before) / clients
                busy = sorted(sampler.samples)[len(sampler.samples) // 4 :]  # past the ramp
                steady = (statistics.median(busy) - before) / clients
            rows.append(
                {
                    "benchmark": f"api memory, {clients} concurrent 24 MiB uploads",
                    "steady_per_upload_parts": steady / PART,
                    "peak_per_upload_parts": peak / PART,
                    "steady_per_upload_mib": steady / MiB,
                }
            )
        if not ROUNDS:
            return rows
        cpu: dict[str, list[float]] = {"on": [], "off": []}
        rate: dict[str, list[float]] = {"on": [], "off": []}
        budgets = {"on": str(256 * MiB), "off": str(64 * 1024 * MiB)}
        for _ in range(ROUNDS):
            for mode, budget in budgets.items():
                with _api({**env, "CHUTE_API_UPLOAD_MEMORY_BYTES": budget}) as api:
                    asyncio.run(_small(api.url, 32))  # warm up
                    used = cpu_seconds(api.pid)
                    seconds = asyncio.run(_small(api.url, SMALL_UPLOADS))
                    cpu[mode].append((cpu_seconds(api.pid) - used) / SMALL_UPLOADS * 1000)
                    rate[mode].append(SMALL_UPLOADS / seconds)
        on, off = Stat.of(cpu["on"]), Stat.of(cpu["off"])
        rows.append(
            {
                "benchmark": "api 64 KiB uploads, 16 clients, budget on vs off",
                "cpu_ms_on": on.median,
                "cpu_ms_off": off.median,
                "cpu_ratio": on.median / off.median,
                "uploads_per_s_on": statistics.median(rate["on"]),
                "uploads_per_s_off": statistics.median(rate["off"]),
            }
        )
    return rows
