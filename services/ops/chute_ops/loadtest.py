"""`chute loadtest`: upload N files at a target rate (or as a burst), watch the
pipeline drain, and account for every job.

Progress and the plot read the workers' own gauges (`--metrics-url`, a worker's
/metrics): queue depth, jobs in flight, jobs finished. The final accounting fetches
each job once: uploaded, succeeded, failed, lost (not terminal by the deadline),
and upload-to-done latency percentiles from the records' timestamps.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.live import Live
from rich.table import Table

from chute_core.errors import ChuteError
from chute_core.jobs import TERMINAL, JobState, parse_iso
from chute_ops.retry_after import send_async

__all__ = ["LoadTest", "Sample"]

_NAMES = "chute_queue_messages|chute_worker_jobs_in_flight|chute_jobs_finished_total"
_GAUGE = re.compile(rf"^({_NAMES})(\{{[^}}]*\}})? (\S+)$")


@dataclass
class Sample:
    t: float
    visible: float = 0.0
    in_flight: float = 0.0
    processing: float = 0.0
    finished: float = 0.0


@dataclass
class LoadTest:
    api_url: str
    headers: dict[str, str]
    metrics_url: str | None
    count: int
    sizes: list[int]
    rate: float | None  # uploads/s; None = as fast as `concurrency` allows
    concurrency: int = 32
    timeout: float = 600.0
    job_ids: list[str] = field(default_factory=list)
    failed_uploads: int = 0
    retried_uploads: int = 0  # tries again after a 429 or 503 (Retry-After honoured)
    samples: list[Sample] = field(default_factory=list)

    async def _upload(self, client: httpx.AsyncClient, i: int) -> None:
        size = self.sizes[i % len(self.sizes)]
        body = os.urandom(size)

        def count_retry() -> None:
            self.retried_uploads += 1

        async def request() -> httpx.Response:
            return await client.post(
                "/v1/uploads",
                params={"filename": f"loadtest-{i}.bin"},
                content=body,
                headers={"Content-Type": "application/octet-stream"},
            )

        try:
            r = await send_async(request, on_retry=count_retry)
        except httpx.TransportError:
            self.failed_uploads += 1
            return
        if r.status_code == 202:
            self.job_ids.append(r.json()["job_id"])
        else:
            self.failed_uploads += 1

    async def _send_all(self, client: httpx.AsyncClient) -> None:
        slots = asyncio.Semaphore(self.concurrency)
        started = time.monotonic()
        tasks = []
        for i in range(self.count):
            if self.rate:  # open-loop pacing: upload i is due at i / rate
                delay = started + i / self.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await slots.acquire()
            task = asyncio.create_task(self._upload(client, i))
            task.add_done_callback(lambda _: slots.release())
            tasks.append(task)
        await asyncio.gather(*tasks)

    async def _sample(self, client: httpx.AsyncClient, t0: float) -> Sample:
        sample = Sample(t=time.monotonic() - t0)
        if not self.metrics_url:
            return sample
        try:
            text = (await client.get(self.metrics_url)).text
        except httpx.TransportError:
            return sample
        for line in text.splitlines():
            m = _GAUGE.match(line)
            if not m:
                continue
            name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
            if name == "chute_queue_messages" and 'queue="main"' in labels:
                if 'state="visible"' in labels:
                    sample.visible = value
                elif 'state="in_flight"' in labels:
                    sample.in_flight = value
            elif name == "chute_worker_jobs_in_flight":
                sample.processing = value
            elif name == "chute_jobs_finished_total":
                sample.finished += value
        return sample

    def _view(self, sample: Sample, sending: bool) -> Table:
        table = Table(title="chute loadtest")
        for column in ("uploaded", "upload errors", "queued", "in flight", "processing", "done"):
            table.add_column(column, justify="right")
        done = sample.finished - (self.samples[0].finished if self.samples else 0)
        table.add_row(
            f"{len(self.job_ids)}/{self.count}" + (" …" if sending else ""),
            str(self.failed_uploads),
            f"{sample.visible:.0f}",
            f"{sample.in_flight:.0f}",
            f"{sample.processing:.0f}",
            f"{done:.0f}",
        )
        return table

    async def run(self, *, live: bool) -> None:
        t0 = time.monotonic()
        limits = httpx.Limits(max_connections=self.concurrency + 4)
        async with httpx.AsyncClient(
            base_url=self.api_url, headers=self.headers, limits=limits, timeout=60
        ) as client:
            self.samples.append(await self._sample(client, t0))
            sender = asyncio.create_task(self._send_all(client))
            view = Live(self._view(self.samples[0], True), refresh_per_second=4)
            with view if live else contextlib.nullcontext():
                deadline = t0 + self.timeout
                while time.monotonic() < deadline:
                    await asyncio.sleep(1.0)  # the sampling period of the plot
                    sample = await self._sample(client, t0)
                    self.samples.append(sample)
                    if live:
                        view.update(self._view(sample, not sender.done()))
                    finished = sample.finished - self.samples[0].finished
                    if sender.done() and (finished >= len(self.job_ids) or not self.metrics_url):
                        break
            await sender

    async def account(self) -> dict[str, Any]:
        """Fetch every job once; a job not terminal by now is lost."""
        states: dict[str, int] = {}
        latencies: list[float] = []
        async with httpx.AsyncClient(
            base_url=self.api_url, headers=self.headers, timeout=60
        ) as client:
            deadline = time.monotonic() + self.timeout
            pending = list(self.job_ids)
            while pending and time.monotonic() < deadline:
                jobs = await asyncio.gather(*(client.get(f"/v1/jobs/{j}") for j in pending[:64]))
                for job_id, response in zip(pending[:64], jobs, strict=True):
                    job = response.json()
                    if JobState(job["state"]) in TERMINAL:
                        pending.remove(job_id)
                        states[job["state"]] = states.get(job["state"], 0) + 1
                        latencies.append(_seconds(job["created_at"], job["finished_at"]))
                if pending and not any(JobState(r.json()["state"]) in TERMINAL for r in jobs):
                    await asyncio.sleep(0.5)  # nothing moved in this round: let it progress
        return {
            "uploaded": len(self.job_ids),
            "succeeded": states.get("SUCCEEDED", 0),
            "failed": states.get("FAILED", 0) + states.get("CANCELLED", 0),
            "lost": len(pending),
            "upload_errors": self.failed_uploads,
            "upload_retries": self.retried_uploads,
            "latency": _percentiles(latencies),
        }

    def plot(self, path: Path) -> None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ChuteError("--plot needs matplotlib (pip install matplotlib)") from exc
        t = [s.t for s in self.samples]
        rate = [0.0] + [
            max(0.0, (b.finished - a.finished) / max(b.t - a.t, 1e-9))
            for a, b in zip(self.samples, self.samples[1:], strict=False)
        ]
        fig, (depth, flow) = plt.subplots(2, 1, sharex=True, figsize=(10, 6))
        depth.stackplot(
            t,
            [s.visible for s in self.samples],
            [s.in_flight for s in self.samples],
            labels=["visible", "in flight"],
            alpha=0.7,
        )
        depth.plot(t, [s.processing for s in self.samples], color="black", label="jobs processing")
        depth.set_ylabel("messages")
        depth.legend(loc="upper right")
        depth.set_title(f"chute loadtest: {len(self.job_ids)} uploads")
        flow.plot(t, rate, color="tab:green", label="completions/s")
        flow.set_xlabel("seconds")
        flow.set_ylabel("jobs/s")
        flow.legend(loc="upper right")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)


def _seconds(start: str, end: str | None) -> float:
    if not end:
        return 0.0
    return (parse_iso(end) - parse_iso(start)).total_seconds()


def _percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"p50": values[0] if values else 0.0, "p95": 0.0, "p99": 0.0}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": statistics.median(values), "p95": q[94], "p99": q[98]}
