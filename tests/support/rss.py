"""Sample the resident memory of a process and all its children, in a thread."""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_bytes(pid: int) -> int:
    pids, seen = [pid], set()
    total = 0
    while pids:
        current = pids.pop()
        if current in seen:
            continue
        seen.add(current)
        total += _rss_kib(current)
        pids += _children(current)
    return total * 1024


class TreeRssSampler:
    """`with TreeRssSampler(pid) as s: ...` then `s.peak` (bytes, process + children)."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, tree_rss_bytes(self.pid))

    def __enter__(self) -> TreeRssSampler:
        self.peak = tree_rss_bytes(self.pid)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
