"""A real Prometheus server for tests: scrapes chute's processes, and can be given
recorded series (kube-state-metrics, KEDA) backfilled with promtool beforehand."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from chute_ops.child_processes import stop_process
from tests.support.polling import wait_until
from tests.support.processes import free_port


@dataclass(frozen=True)
class Target:
    job: str
    address: str  # host:port
    labels: dict[str, str]


@dataclass
class Prometheus:
    url: str

    def query(self, expr: str) -> dict[str, Any]:
        r = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body: dict[str, Any] = r.json()
        return body

    def series(self, expr: str) -> list[dict[str, Any]]:
        body = self.query(expr)
        assert body["status"] == "success", f"{expr}: {body.get('error')}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result


def openmetrics(series: Sequence[tuple[str, str, dict[str, str], float]], *, minutes: int) -> str:
    """(family, type, labels, value) rows as OpenMetrics text, one sample every 15 s
    over the last `minutes`; counters grow by `value` per sample."""
    now = int(time.time())
    stamps = range(now - minutes * 60, now + 1, 15)
    families: dict[tuple[str, str], list[str]] = {}
    for family, kind, labels, value in series:
        name = f"{family}_total" if kind == "counter" else family
        text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        lines = families.setdefault((family, kind), [])
        for i, stamp in enumerate(stamps):
            sample = value * (i + 1) if kind == "counter" else value
            lines.append(f"{name}{{{text}}} {sample} {stamp}")
    out = []
    for (family, kind), lines in families.items():
        out.append(f"# TYPE {family} {kind}")
        out.extend(lines)
    out.append("# EOF")
    return "\n".join(out) + "\n"


@contextmanager
def prometheus(
    workdir: Path,
    targets: Sequence[Target],
    *,
    rule_files: Sequence[Path] = (),
    backfill: str | None = None,
) -> Iterator[Prometheus]:
    binary, promtool = shutil.which("prometheus"), shutil.which("promtool")
    assert binary, "prometheus missing: `make test` installs Debian's prometheus package"
    assert promtool
    data = workdir / "data"
    data.mkdir(parents=True)
    if backfill:
        source = workdir / "backfill.om"
        source.write_text(backfill)
        subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
            check=True,
            capture_output=True,
        )
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [
            {"job_name": t.job, "static_configs": [{"targets": [t.address], "labels": t.labels}]}
            for t in targets
        ],
    }
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (workdir / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1d",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def ready() -> bool:
            assert proc.poll() is None, (workdir / "prometheus.log").read_text()[-2000:]
            try:
                return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, timeout=30, what="prometheus ready")
        yield Prometheus(url)
    finally:
        stop_process(proc, timeout=10)
        log.close()
