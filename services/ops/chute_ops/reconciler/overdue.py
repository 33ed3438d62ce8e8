"""The overdue jobs, from the due index: one query per shard (`due_at` < now), never a
scan, so a pass reads only what is overdue however many jobs the table holds. Each
entry carries what the index projects (`DUE_INDEX_ATTRIBUTES`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chute_core.due import DUE_INDEX, SHARDS
from chute_core.jobs import JobState, parse_iso, utcnow

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["Overdue", "overdue_jobs"]


@dataclass(frozen=True)
class Overdue:
    job_id: str
    state: JobState
    updated_at: str
    lease_expires_at: str | None

    @property
    def waits_for_a_message(self) -> bool:
        """QUEUED, or PROCESSING under a lapsed lease: its message should be queued."""
        if self.state is JobState.QUEUED:
            return True
        lease = self.lease_expires_at
        return self.state is JobState.PROCESSING and (lease is None or parse_iso(lease) < utcnow())


def _entry(item: dict[str, Any]) -> Overdue:
    lease = item.get("lease_expires_at")
    return Overdue(
        job_id=item["job_id"]["S"],
        state=JobState(item["state"]["S"]),
        updated_at=item["updated_at"]["S"],
        lease_expires_at=lease["S"] if lease else None,
    )


async def overdue_jobs(
    ddb: DynamoDBClient, table: str, *, now: int, limit: int
) -> AsyncIterator[Overdue]:
    """Up to `limit` jobs due before `now`, the most overdue of each shard first."""
    left = limit
    for shard in range(SHARDS):
        start: dict[str, Any] | None = None
        while left > 0:
            params: dict[str, Any] = {
                "TableName": table,
                "IndexName": DUE_INDEX,
                "KeyConditionExpression": "due_shard = :shard AND due_at < :now",
                "ExpressionAttributeValues": {
                    ":shard": {"S": f"due-{shard:02d}"},
                    ":now": {"N": str(now)},
                },
                "Limit": min(left, 1000),
            }
            if start:
                params["ExclusiveStartKey"] = start
            page = await ddb.query(**params)
            for item in page.get("Items", []):
                left -= 1
                yield _entry(item)
            start = page.get("LastEvaluatedKey")
            if not start:
                break
