"""The readiness check: are S3 and DynamoDB reachable from this replica?"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_s3 import S3Client

__all__ = ["Readiness"]

TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class Readiness:
    s3: S3Client
    dynamodb: DynamoDBClient
    bucket: str
    table: str

    async def check(self) -> dict[str, str]:
        """Each dependency's state: "ok" or "error: <type>"."""
        checks = {
            "s3": self.s3.head_bucket(Bucket=self.bucket),
            "dynamodb": self.dynamodb.describe_table(TableName=self.table),
        }
        results = await asyncio.gather(
            *(asyncio.wait_for(c, TIMEOUT_SECONDS) for c in checks.values()),
            return_exceptions=True,
        )
        return {
            name: "ok" if not isinstance(r, BaseException) else f"error: {type(r).__name__}"
            for name, r in zip(checks, results, strict=True)
        }
