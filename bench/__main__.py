"""`make bench`: run every benchmark, print one table, write bench/results/latest.json.

Benchmarks compare against baselines measured in the same run on the same moto:
quote medians and ratios, not absolute times (this machine is shared and noisy)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

BENCHMARKS = [
    "moto_capacity",
    "api_upload",
    "api_memory",
    "upload_memory",
    "worker_jobs",
    "io_concurrency",
    "e2e_latency",
    "thumbnails",
    "tus_peers",
    "reconcile_pass",
    "requests_per_job",
]
RESULTS = Path(__file__).with_name("results") / "latest.json"


def main(names: list[str]) -> int:
    rows: list[dict[str, Any]] = []
    for name in names or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        for row in module.run():
            rows.append(row)
            print(" | ".join(f"{k}={_fmt(v)}" for k, v in row.items()), flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


def _fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
