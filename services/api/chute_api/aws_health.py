"""Are S3 and DynamoDB reachable from this replica? A background check answers it on an interval,
for metrics, logs and a fast 503. It is never readiness: an S3 or DynamoDB blip would
take every API replica out of its Service at once, and the edge would answer 503 to
everything, reads included. While the last `failures_to_open` checks of a dependency
failed, requests that need AWS get 503 `dependency-unavailable` with Retry-After at once
instead of waiting out timeouts. One failed check is not enough: a dependency busy for a
moment (a check timed out while it assembled a 1 GiB multipart upload, seen here) would
otherwise fail every request for a whole interval, requests it would have answered."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chute_api import metrics
from chute_api.errors import DependencyUnavailable
from chute_core.logs import get_logger

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_s3 import S3Client

__all__ = ["AwsHealth"]

log = get_logger(__name__)


@dataclass
class AwsHealth:
    s3: S3Client
    dynamodb: DynamoDBClient
    bucket: str
    table: str
    timeout: float = 3.0
    failures_to_open: int = 2  # consecutive failed checks before requests fail fast
    last: dict[str, str] = field(default_factory=dict)  # dependency -> "ok" | "error: …"
    _failed_checks: dict[str, int] = field(default_factory=dict)  # consecutive, per name

    async def check(self) -> dict[str, str]:
        """Each dependency's state now ("ok" or "error: <type>"), remembered in `last`."""
        checks = {
            "s3": self.s3.head_bucket(Bucket=self.bucket),
            "dynamodb": self.dynamodb.describe_table(TableName=self.table),
        }
        results = await asyncio.gather(
            *(asyncio.wait_for(c, self.timeout) for c in checks.values()),
            return_exceptions=True,
        )
        now = {
            name: "ok" if not isinstance(r, BaseException) else f"error: {type(r).__name__}"
            for name, r in zip(checks, results, strict=True)
        }
        for name, state in now.items():
            metrics.DEPENDENCY_UP.labels(dependency=name).set(1 if state == "ok" else 0)
            if self.last.get(name) != state:
                level = log.info if state == "ok" else log.warning
                level("dependency_state", dependency=name, state=state)
            self._failed_checks[name] = 0 if state == "ok" else self._failed_checks.get(name, 0) + 1
        self.last = now
        return now

    def failing_fast(self) -> list[str]:
        """The dependencies whose last `failures_to_open` checks failed."""
        return sorted(n for n, f in self._failed_checks.items() if f >= self.failures_to_open)

    def require_available(self) -> None:
        """503 at once while the last checks found a dependency down."""
        if self.failing_fast():
            raise DependencyUnavailable()

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        """Check every interval until `stop` (the first check runs at start-up)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            if stop.is_set():
                return
            await self.check()
