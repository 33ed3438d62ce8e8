"""The overdue jobs, from the due index: one query per shard (`due_at` < now), never a
scan, so a pass reads only what is overdue however many jobs the table holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from chute_core.due import DUE_INDEX, SHARDS

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["overdue_job_ids"]


async def overdue_job_ids(
    ddb: DynamoDBClient, table: str, *, now: int, limit: int
) -> AsyncIterator[str]:
    """Up to `limit` ids of jobs due before `now`, the most overdue of each shard first."""
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
                yield item["job_id"]["S"]
            start = page.get("LastEvaluatedKey")
            if not start:
                break
