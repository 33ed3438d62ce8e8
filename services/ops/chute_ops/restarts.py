"""Children of `chute dev` that are started again when they die, with backoff, as a
kubelet restarts a crashed container: one service failing never takes the others down."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Restartable"]

FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 30.0
STABLE_SECONDS = 60.0  # up this long, and the next crash starts the backoff afresh


@dataclass
class Restartable:
    name: str
    argv: list[str]
    env: dict[str, str]
    started: list[subprocess.Popen[bytes]]  # every process started, for the final stop
    proc: subprocess.Popen[bytes] | None = None
    crashes: int = 0
    _up_since: float = 0.0
    _due: float | None = field(default=None, repr=False)

    def start(self) -> subprocess.Popen[bytes]:
        self.proc = subprocess.Popen(self.argv, env=self.env)
        self.started.append(self.proc)
        self._up_since = time.monotonic()
        return self.proc

    def tend(self, say: Callable[[str], None]) -> None:
        """Call periodically: notice a death, say so in one line, restart when due."""
        now = time.monotonic()
        if self.proc is not None and self.proc.poll() is None:
            if now - self._up_since > STABLE_SECONDS:
                self.crashes = 0
            return
        if self._due is None:
            delay = min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2**self.crashes)
            code = self.proc.returncode if self.proc is not None else None
            say(f"chute: {self.name} exited with code {code}; restarting in {delay:g} s")
            self.crashes += 1
            self._due = now + delay
        elif now >= self._due:
            self._due = None
            self.start()
            say(f"chute: {self.name} restarted (pid {self.proc.pid if self.proc else '?'})")
