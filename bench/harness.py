"""What every benchmark needs: moto and chute as real processes on free ports, fresh
resources, CPU time of a process from /proc, and statistics over repeated runs."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from chute_core.metrics import AWS_REQUESTS
from chute_core.settings import AwsSettings, PipelineSettings
from chute_ops.bootstrap import bootstrap
from chute_ops.child_processes import stop_process, wait_healthy
from chute_ops.teardown import teardown

REPO = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class Proc:
    proc: subprocess.Popen[bytes]
    url: str

    @property
    def pid(self) -> int:
        return self.proc.pid


def wait_ready(url: str, proc: subprocess.Popen[Any], timeout: float = 60) -> None:
    wait_healthy(str(proc.args), url, proc, timeout)


@contextmanager
def process(
    argv: Sequence[str], *, ready_path: str, port: int, env: dict[str, str]
) -> Iterator[Proc]:
    proc = subprocess.Popen(
        list(argv),
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url + ready_path, proc)
        yield Proc(proc, url)
    finally:
        stop_process(proc, timeout=15)


@contextmanager
def moto() -> Iterator[Proc]:
    port = free_port()
    argv = [sys.executable, "-m", "chute_ops.local_aws", "-H", "127.0.0.1", "-p", str(port)]
    with process(argv, ready_path="/moto-api/", port=port, env={}) as proc:
        yield proc


@contextmanager
def pipeline(moto_url: str) -> Iterator[tuple[AwsSettings, PipelineSettings]]:
    aws = AwsSettings(aws_endpoint_url=moto_url)
    name = f"b{uuid.uuid4().hex[:12]}"
    settings = PipelineSettings(bucket=name, topic=name, queue=name, table=name)
    bootstrap(aws, settings)
    try:
        yield aws, settings
    finally:
        teardown(aws, settings)


def chute_env(aws: AwsSettings, p: PipelineSettings) -> dict[str, str]:
    return {
        "CHUTE_AWS_ENDPOINT_URL": aws.aws_endpoint_url or "",
        "CHUTE_BUCKET": p.bucket,
        "CHUTE_TOPIC": p.topic,
        "CHUTE_QUEUE": p.queue,
        "CHUTE_TABLE": p.table,
        "PYTHONPATH": str(REPO),
        "CHUTE_AUTH": "none",  # benchmarks measure the pipeline, not key lookups
        "CHUTE_RATE_UPLOADS_PER_SECOND": "0",  # nor a budget they would exceed on purpose
        "CHUTE_RATE_READS_PER_SECOND": "0",
    }


@dataclass(frozen=True)
class Stat:
    median: float
    spread: float  # (max - min) / median: how noisy the repeats were

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stat:
        median = statistics.median(samples)
        spread = (max(samples) - min(samples)) / median if median else 0.0
        return cls(median, spread)

    def __str__(self) -> str:
        return f"{self.median:.4g} ±{self.spread * 50:.0f}%"


AWS_REQUESTS_SAMPLE = re.compile(
    r'^chute_aws_requests_total\{operation="\w+",service="[\w-]+"\} (\S+)$'
)


def aws_requests_sent() -> float:
    """AWS requests this process has sent so far (every instrumented client counts)."""
    return sum(
        sample.value
        for metric in AWS_REQUESTS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


def scraped_aws_requests(url: str) -> float:
    """AWS requests a chute process has sent so far, from its /metrics."""
    text = httpx.get(f"{url}/metrics").text
    return sum(
        float(m.group(1)) for line in text.splitlines() if (m := AWS_REQUESTS_SAMPLE.match(line))
    )
