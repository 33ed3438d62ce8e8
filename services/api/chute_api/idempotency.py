"""Idempotency keys: the same key with the same request answers what the first request
answered; with a different request it is a 409. Keys live 24 hours.

A key is reserved with one conditional PutItem in the job table (its own key shape,
`idem#…`, outside the tenant index), so two concurrent requests with one key create
one job on any number of API replicas: the loser waits for the winner's answer and
replays it. The request is identified by its method, path, query, content type and
declared length, and the body by its SHA-256 once streamed."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chute_core.aws import error_code
from chute_core.errors import ChuteError

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["IdempotencyConflict", "IdempotencyStore", "Replay", "Reservation"]

TTL_SECONDS = 24 * 3600
PENDING_SECONDS = 600  # a reservation whose request died is free again after this
MAX_KEY_LENGTH = 255


class IdempotencyConflict(ChuteError):
    """The key was used for a different request, or its request is still running."""

    def __init__(self, detail: str, *, in_progress: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.in_progress = in_progress


@dataclass(frozen=True)
class Reservation:
    record_id: str


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    body_sha256: str | None


def fingerprint(
    method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str]
) -> str:
    canonical = json.dumps(
        {
            "method": method,
            "path": path,
            "query": sorted(query.items()),
            "content-type": headers.get("content-type", ""),
            "content-length": headers.get("content-length", ""),
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    @staticmethod
    def record_id(tenant: str, key: str) -> str:
        return f"idem#{tenant}#{hashlib.sha256(key.encode()).hexdigest()}"

    async def begin(
        self, tenant: str, key: str, request_fingerprint: str, *, wait_seconds: float = 60.0
    ) -> Reservation | Replay:
        """Reserve the key for this request, or the earlier answer to replay."""
        record_id = self.record_id(tenant, key)
        now = int(time.time())
        try:
            await self._client.put_item(
                TableName=self._table,
                Item={
                    "job_id": {"S": record_id},
                    "kind": {"S": "idempotency"},
                    "fingerprint": {"S": request_fingerprint},
                    "status": {"S": "pending"},
                    "pending_until": {"N": str(now + PENDING_SECONDS)},
                    "expires_at": {"N": str(now + TTL_SECONDS)},
                },
                # Free, expired (TTL deletes lazily) or abandoned by a dead request.
                ConditionExpression="attribute_not_exists(job_id) OR expires_at < :now "
                "OR (#status = :pending AND pending_until < :now)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":now": {"N": str(now)}, ":pending": {"S": "pending"}},
            )
            return Reservation(record_id)
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
        deadline = time.monotonic() + wait_seconds
        while True:
            item = await self._get(record_id)
            if item is None:  # released by a failed request meanwhile: try again
                return await self.begin(tenant, key, request_fingerprint, wait_seconds=0)
            if item["fingerprint"]["S"] != request_fingerprint:
                raise IdempotencyConflict("this Idempotency-Key was used for a different request")
            if item["status"]["S"] == "done":
                return Replay(
                    status=int(item["response_status"]["N"]),
                    body=json.loads(item["response_body"]["S"]),
                    headers=json.loads(item["response_headers"]["S"]),
                    body_sha256=item.get("body_sha256", {}).get("S"),
                )
            if time.monotonic() >= deadline:
                raise IdempotencyConflict(
                    "a request with this Idempotency-Key is still in progress", in_progress=True
                )
            await asyncio.sleep(0.2)  # polling the winner's record for its answer

    async def finish(
        self,
        reservation: Reservation,
        *,
        status: int,
        body: dict[str, Any],
        headers: dict[str, str],
        body_sha256: str | None,
    ) -> None:
        values: dict[str, Any] = {
            ":done": {"S": "done"},
            ":status": {"N": str(status)},
            ":body": {"S": json.dumps(body)},
            ":headers": {"S": json.dumps(headers)},
        }
        expression = (
            "SET #status = :done, response_status = :status, response_body = :body, "
            "response_headers = :headers"
        )
        if body_sha256:
            values[":sha"] = {"S": body_sha256}
            expression += ", body_sha256 = :sha"
        await self._client.update_item(
            TableName=self._table,
            Key={"job_id": {"S": reservation.record_id}},
            UpdateExpression=expression,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )

    async def release(self, reservation: Reservation) -> None:
        """The request failed: free the key so the client may retry with it."""
        await self._client.delete_item(
            TableName=self._table,
            Key={"job_id": {"S": reservation.record_id}},
            ConditionExpression="#status = :pending",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":pending": {"S": "pending"}},
        )

    async def _get(self, record_id: str) -> dict[str, Any] | None:
        response = await self._client.get_item(
            TableName=self._table, Key={"job_id": {"S": record_id}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = response.get("Item")
        return item
