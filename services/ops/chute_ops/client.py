"""HTTP client side of the CLI: `chute upload` and `chute status`."""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from chute_core.errors import ChuteError
from chute_core.jobs import TERMINAL, JobState
from chute_ops.retry_after import send

__all__ = ["get_job", "upload_file", "wait_for_job"]

CHUNK = 1024 * 1024


def _check(response: httpx.Response) -> dict[str, Any]:
    if response.is_success:
        body: dict[str, Any] = response.json()
        return body
    try:
        detail = response.json().get("detail") or response.json().get("title")
    except ValueError:
        detail = response.text[:200]
    raise ChuteError(f"API answered {response.status_code}: {detail}")


def upload_file(client: httpx.Client, path: Path, *, show_progress: bool) -> dict[str, Any]:
    if not path.is_file():
        raise ChuteError(f"{path}: no such file")
    size = path.stat().st_size
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        disable=not show_progress,
        transient=True,
    ) as progress:
        task = progress.add_task(f"uploading {path.name}", total=size)

        def body() -> Iterator[bytes]:
            progress.reset(task)  # a retried upload sends the file again
            with path.open("rb") as f:
                while chunk := f.read(CHUNK):
                    progress.advance(task, len(chunk))
                    yield chunk

        response = send(
            lambda: client.post(
                "/v1/uploads",
                params={"filename": path.name},
                headers={"Content-Type": content_type, "Content-Length": str(size)},
                content=body(),
            )
        )
    return _check(response)


def get_job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    return _check(client.get(f"/v1/jobs/{job_id}"))


def wait_for_job(
    client: httpx.Client, job_id: str, *, timeout: float, interval: float = 0.5
) -> dict[str, Any]:
    """Poll the job until it is terminal; ChuteError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        job = get_job(client, job_id)
        if JobState(job["state"]) in TERMINAL:
            return job
        if time.monotonic() > deadline:
            raise ChuteError(f"job {job_id} still {job['state']} after {timeout:.0f}s")
        time.sleep(interval)
