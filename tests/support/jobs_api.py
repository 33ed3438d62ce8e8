"""Upload through the API with a content type and processors, and follow one job."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.support.polling import wait_until

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


def post_file(
    api_url: str,
    name: str,
    body: bytes,
    content_type: str = "application/octet-stream",
    processors: str | None = None,
) -> str:
    params = {"filename": name, **({"processors": processors} if processors else {})}
    r = httpx.post(
        f"{api_url}/v1/uploads",
        params=params,
        content=body,
        headers={"Content-Type": content_type},
        timeout=120,
    )
    assert r.status_code == 202, r.text
    job_id: str = r.json()["job_id"]
    return job_id


def get_job(api_url: str, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = httpx.get(f"{api_url}/v1/jobs/{job_id}", timeout=10).json()
    return job


def wait_job(api_url: str, job_id: str, *, timeout: float = 60) -> dict[str, Any]:
    def terminal() -> dict[str, Any] | None:
        job = get_job(api_url, job_id)
        return job if job["state"] in TERMINAL else None

    return wait_until(terminal, timeout=timeout, interval=0.1, what=f"job {job_id} terminal")


def steps(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The job's processor outcomes by name."""
    return {s["name"]: s for s in (job.get("result") or {}).get("processors", [])}


def seconds_since(moment: float) -> float:
    return time.monotonic() - moment
