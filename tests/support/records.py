"""Read the start/end records the `Recording` test processor appends."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Run:
    pid: int
    start: float
    end: float | None = None


@dataclass
class Records:
    runs: dict[str, list[Run]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def read(cls, path: Path) -> Records:
        records = cls()
        if not path.exists():
            return records
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut by SIGKILL
            runs = records.runs[entry["job"]]
            if entry["event"] == "start":
                runs.append(Run(pid=entry["pid"], start=entry["t"]))
            else:
                open_runs = [r for r in runs if r.pid == entry["pid"] and r.end is None]
                open_runs[-1].end = entry["t"]
        return records

    def open_pids(self) -> set[int]:
        """Processes in the middle of a job right now."""
        return {r.pid for runs in self.runs.values() for r in runs if r.end is None}

    def starts(self) -> int:
        return sum(len(runs) for runs in self.runs.values())
