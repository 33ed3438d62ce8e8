"""Start-up and shutdown of child processes: `chute dev` uses it, and so do the
benchmarks and the tests, so all three wait and stop the same way."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import httpx

from chute_core.errors import ChuteError

__all__ = ["stop_process", "wait_healthy"]

POLL_SECONDS = 0.1


def wait_healthy(name: str, url: str, proc: subprocess.Popen[Any], timeout: float) -> None:
    """Poll `url` until it answers 200; ChuteError if `proc` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise ChuteError(f"{name} exited with code {proc.returncode} before it was ready")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise ChuteError(f"{name} not ready at {url} after {timeout:.0f}s")
        time.sleep(POLL_SECONDS)


def stop_process(proc: subprocess.Popen[Any], timeout: float) -> int:
    """SIGTERM, then SIGKILL if it has not exited within `timeout`; its exit code."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return proc.returncode
