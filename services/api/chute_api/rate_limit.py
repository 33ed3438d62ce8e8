"""Per-tenant token buckets for uploads and for reads.

Settings give each tenant's budget for the whole API; every replica enforces its share
(budget / CHUTE_API_REPLICAS), which sums to the budget when the load balancer spreads a
tenant's requests evenly. Answers carry RateLimit-Limit/-Remaining/-Reset and
RateLimit-Policy; a refusal is 429 with Retry-After."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from chute_api.errors import RateLimited

__all__ = ["Quota", "RateLimiter"]

MAX_TRACKED = 100_000  # buckets kept; the least recently used tenant is forgotten


@dataclass(frozen=True)
class Quota:
    name: str
    limit: int  # bucket capacity (the burst)
    remaining: int
    reset_seconds: int  # until the bucket is full again
    retry_after: int  # until one more request is allowed (0 when allowed now)
    rate: float

    @property
    def policy(self) -> str:
        window = max(1, math.ceil(self.limit / self.rate))
        return f"{self.limit};w={window};name={self.name}"

    def headers(self) -> dict[str, str]:
        out = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
            "RateLimit-Policy": self.policy,
        }
        if self.retry_after:
            out["Retry-After"] = str(self.retry_after)
        return out


class RateLimiter:
    def __init__(self, name: str, *, per_second: float, burst: int, replicas: int = 1) -> None:
        self.name = name
        self.rate = per_second / replicas
        self.capacity = max(1.0, burst / replicas)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, tenant: str, now: float | None = None) -> Quota:
        """Spend one token of `tenant`'s bucket; RateLimited when it is empty."""
        now = time.monotonic() if now is None else now
        tokens, then = self._buckets.pop(tenant, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - then) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[tenant] = (tokens, now)
        if len(self._buckets) > MAX_TRACKED:
            self._buckets.popitem(last=False)
        quota = Quota(
            name=self.name,
            limit=int(self.capacity),
            remaining=int(tokens),
            reset_seconds=math.ceil((self.capacity - tokens) / self.rate),
            retry_after=0 if allowed else max(1, math.ceil((1.0 - tokens) / self.rate)),
            rate=self.rate,
        )
        if not allowed:
            raise RateLimited(quota)
        return quota
