"""chute's tus server against the one users would run instead: `@tus/server` with
`@tus/s3-store` (tus's own Node server and S3 store, bench/peers/tus-node, pinned by its
package-lock.json), both on the same moto. One 256 MiB upload in 8 MiB PATCHes from
the same client, 3 interleaved rounds, a fresh server process each round:

- throughput: MiB/s of the whole upload as the client sees it (creation to last 204);
- peak RSS: the server's VmHWM above its RSS when ready;
- disk: bytes the server process wrote to local storage during the upload
  (/proc/PID/io write_bytes; its temp files are on a disk here, not tmpfs).

Medians and the ratio chute / peer; this machine is shared and noisy."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from bench.harness import REPO, Proc, chute_env, free_port, moto, pipeline, process

MiB = 1024 * 1024
SIZE = int(os.environ.get("BENCH_TUS_MIB", "256")) * MiB
CHUNK = 8 * MiB
ROUNDS = int(os.environ.get("BENCH_TUS_ROUNDS", "3"))
PEER = REPO / "bench" / "peers" / "tus-node"
TUS = {"Tus-Resumable": "1.0.0"}


def _status_bytes(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} for {pid}")


def _written(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise RuntimeError(f"no write_bytes for {pid}")


def _upload(creation_url: str, data: bytes) -> float:
    """Seconds for the whole upload, creation to the last PATCH's answer."""
    started = time.perf_counter()
    with httpx.Client(timeout=300) as client:
        created = client.post(creation_url, headers={**TUS, "Upload-Length": str(len(data))})
        created.raise_for_status()
        location = urljoin(creation_url, created.headers["location"])
        stream = {**TUS, "Content-Type": "application/offset+octet-stream"}
        for offset in range(0, len(data), CHUNK):
            answer = client.patch(
                location,
                content=data[offset : offset + CHUNK],
                headers={**stream, "Upload-Offset": str(offset)},
            )
            if answer.status_code != 204:
                raise RuntimeError(f"PATCH at {offset}: {answer.status_code} {answer.text}")
    return time.perf_counter() - started


def _measure(server: Proc, creation_url: str, data: bytes) -> dict[str, float]:
    idle = _status_bytes(server.pid, "VmRSS")
    disk = _written(server.pid)
    seconds = _upload(creation_url, data)
    return {
        "mib_per_s": len(data) / MiB / seconds,
        "peak_rss_mib": (_status_bytes(server.pid, "VmHWM") - idle) / MiB,
        "disk_mib": (_written(server.pid) - disk) / MiB,
    }


@contextmanager
def _peer(moto_url: str, bucket: str) -> Iterator[Proc]:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("Node.js is needed: make bench installs it as root (nodejs, npm)")
    port = free_port()
    argv = [node, str(PEER / "server.mjs"), str(port), moto_url, bucket]
    with process(argv, ready_path="/healthz", port=port, env={}) as proc:
        yield proc


@contextmanager
def _chute(env: dict[str, str]) -> Iterator[Proc]:
    port = free_port()
    argv = [sys.executable, "-m", "chute_ops", "api"]
    with process(
        argv, ready_path="/readyz", port=port, env={**env, "CHUTE_API_PORT": str(port)}
    ) as proc:
        yield proc


def run() -> list[dict[str, Any]]:
    if not (PEER / "node_modules").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=PEER, check=True)
    data = os.urandom(SIZE)
    results: dict[str, list[dict[str, float]]] = {"chute": [], "@tus/server": []}
    with moto() as server, pipeline(server.url) as (aws, settings):
        env = {**chute_env(aws, settings), "CHUTE_LOG_LEVEL": "WARNING"}
        for _ in range(ROUNDS):
            with _chute(env) as api:
                results["chute"].append(_measure(api, f"{api.url}/v1/tus/", data))
            with _peer(server.url, settings.bucket) as peer:
                results["@tus/server"].append(_measure(peer, f"{peer.url}/files", data))
    rows: list[dict[str, Any]] = []
    medians = {
        name: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        for name, runs in results.items()
    }
    for name, m in medians.items():
        rows.append(
            {
                "bench": "tus_256mib_8mib_chunks",
                "server": name,
                "mib_per_s": round(m["mib_per_s"], 1),
                "peak_rss_mib": round(m["peak_rss_mib"], 1),
                "disk_written_mib": round(m["disk_mib"], 1),
                "rounds": ROUNDS,
            }
        )
    peer = medians["@tus/server"]
    rows.append(
        {
            "bench": "tus_256mib_8mib_chunks",
            "server": "chute / @tus/server",
            "throughput_ratio": round(medians["chute"]["mib_per_s"] / peer["mib_per_s"], 2),
            "peak_rss_ratio": round(
                medians["chute"]["peak_rss_mib"] / max(peer["peak_rss_mib"], 0.1), 2
            ),
        }
    )
    return rows
