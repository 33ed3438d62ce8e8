"""Start chute's and moto's servers as real child processes on free ports."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from chute_core.errors import ChuteError
from chute_ops.child_processes import stop_process, wait_healthy

REPO = Path(__file__).resolve().parents[2]


def routes(*processors: str, pattern: str = "*/*") -> str:
    """CHUTE_WORKER_ROUTES sending every object (or `pattern`) to `processors`."""
    return json.dumps({pattern: list(processors)})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> int:
        return stop_process(self.proc, timeout)

    def rss_peak_bytes(self) -> int:
        return _status_kib(self.proc.pid, "VmHWM") * 1024


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def start(
    name: str,
    argv: list[str],
    *,
    env: Mapping[str, str],
    ready_url: str,
    base_url: str,
    log_dir: Path,
    timeout: float = 30.0,
) -> Server:
    # Unique per process: two servers sharing a file would mix (and double-count) logs.
    log_path = log_dir / f"{name}-{uuid.uuid4().hex[:12]}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=REPO
        )
    server = Server(name=name, proc=proc, url=base_url, log_path=log_path)
    try:
        wait_healthy(name, ready_url, proc, timeout)
    except BaseException as exc:
        server.stop()
        if isinstance(exc, ChuteError):
            raise AssertionError(f"{exc}:\n{server.log()[-3000:]}") from None
        raise
    return server


def start_moto(log_dir: Path) -> Server:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    return start(
        "moto",
        [sys.executable, "-m", "chute_ops.local_aws", "-H", "127.0.0.1", "-p", str(port)],
        env={},
        ready_url=f"{url}/moto-api/",
        base_url=url,
        log_dir=log_dir,
    )


def _start_service(
    command: str,
    port_variable: str,
    env: Mapping[str, str],
    log_dir: Path,
    *,
    args: tuple[str, ...] = (),
    ready_path: str = "/readyz",
) -> Server:
    """`chute <command>` on a free port (or the one `env` names); PYTHONPATH lets
    workers load test processors."""
    port = int(env.get(port_variable) or free_port())
    url = f"http://127.0.0.1:{port}"
    return start(
        command,
        [sys.executable, "-m", "chute_ops", command, *args],
        env={"PYTHONPATH": str(REPO), **env, port_variable: str(port)},
        ready_url=f"{url}{ready_path}",
        base_url=url,
        log_dir=log_dir,
    )


def start_api(env: Mapping[str, str], log_dir: Path) -> Server:
    return _start_service("api", "CHUTE_API_PORT", env, log_dir)


def start_worker(env: Mapping[str, str], log_dir: Path) -> Server:
    return _start_service("worker", "CHUTE_WORKER_HEALTH_PORT", env, log_dir)


def start_reconciler(env: Mapping[str, str], log_dir: Path) -> Server:
    """`chute reconcile --every` (CHUTE_TEST_RECONCILE_EVERY seconds, default 1), its
    metrics served for the test to read."""
    every = env.get("CHUTE_TEST_RECONCILE_EVERY", "1")
    return _start_service(
        "reconcile",
        "CHUTE_RECONCILER_METRICS_PORT",
        env,
        log_dir,
        args=("--every", every),
        ready_path="/metrics",
    )


def run_chute(
    *args: str, env: Mapping[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the `chute` CLI to completion with `env` on top of the test environment."""
    return subprocess.run(
        [sys.executable, "-m", "chute_ops", *args],
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
    )
