"""A k-minimum-values sketch: distinct-count estimates in constant memory per column."""

from __future__ import annotations

import hashlib
import heapq

__all__ = ["DistinctSketch"]

_SPACE = float(2**64)


class DistinctSketch:
    """Exact below `k` distinct values, then an estimate with ~1/sqrt(k) relative error."""

    def __init__(self, k: int = 256) -> None:
        self.k = k
        self._heap: list[int] = []  # negated: the largest kept hash is at the top
        self._kept: set[int] = set()

    def add(self, value: str) -> None:
        h = int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "big")
        if h in self._kept:
            return
        if len(self._heap) < self.k:
            heapq.heappush(self._heap, -h)
            self._kept.add(h)
        elif h < -self._heap[0]:
            evicted = -heapq.heapreplace(self._heap, -h)
            self._kept.discard(evicted)
            self._kept.add(h)

    def estimate(self) -> int:
        if len(self._heap) < self.k:
            return len(self._heap)
        return round((self.k - 1) / ((-self._heap[0] + 1) / _SPACE))
