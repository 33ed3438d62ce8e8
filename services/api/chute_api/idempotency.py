"""Idempotency keys: the same key with the same request answers what the first request
answered; with a different request it is a 409. Keys live 24 hours.

A key is reserved with one conditional PutItem in the job table (its own key shape,
`idem#…`, outside the tenant index), so two concurrent requests with one key create
one job on any number of API replicas: the loser waits for the winner's answer and
replays it. The request is identified by what it means: its method, path and query,
the file's declared type and name (not the form's framing: every client draws a new
multipart boundary per request), and the file by its SHA-256 once streamed.

`IdempotencyStore.answer` is the envelope every route with an `Idempotency-Key`
(declared once, `IdempotencyKey`) runs its work in."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from botocore.exceptions import ClientError
from fastapi import Header, Request, Response

from chute_api.errors import IdempotencyConflict
from chute_core.aws import error_code

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["Answer", "IdempotencyKey", "IdempotencyStore", "fingerprint"]

TTL_SECONDS = 24 * 3600
PENDING_SECONDS = 600  # a reservation whose request died is free again after this
MAX_KEY_LENGTH = 255

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=r"^[\x21-\x7e]+$",
        description="Retry-safe key (24 h): the same key and request answer the first "
        "answer again (`Idempotent-Replayed: true`); the same key with a different "
        "request is 409",
    ),
]


@dataclass(frozen=True)
class Answer:
    """A route's answer, as it is sent and as a replay sends it again."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    body_sha256: str | None = None  # the uploaded file's, checked on replay


@dataclass(frozen=True)
class Reservation:
    record_id: str


def fingerprint(
    request: Request,
    *,
    content_type: str,
    filename: str | None = None,
    query: Mapping[str, str] | None = None,
) -> str:
    """What identifies a request for its key: its meaning, not its framing. `query`
    stands in for the request's own query parameters when given."""
    canonical = json.dumps(
        {
            "method": request.method,
            "path": request.url.path,
            "query": sorted((request.query_params if query is None else query).items()),
            "content-type": content_type,
            "filename": filename,
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _check_same_file(body: AsyncIterator[bytes], expected: str | None) -> None:
    digest = hashlib.sha256()
    async for chunk in body:
        digest.update(chunk)
    if expected is not None and digest.hexdigest() != expected:
        raise IdempotencyConflict("this Idempotency-Key was used for a different file")


def _send(response: Response, answer: Answer) -> dict[str, Any]:
    response.status_code = answer.status
    response.headers.update(answer.headers)
    return answer.body


class IdempotencyStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    @staticmethod
    def record_id(tenant: str, key: str) -> str:
        return f"idem#{tenant}#{hashlib.sha256(key.encode()).hexdigest()}"

    async def answer(
        self,
        response: Response,
        tenant: str,
        key: str | None,
        fingerprint: str,
        run: Callable[[], Awaitable[Answer]],
        body: AsyncIterator[bytes] | None = None,
    ) -> dict[str, Any]:
        """`run()`'s answer, once per key: a request with the key of an earlier one
        gets that answer again, after `body` (if given) proves to be the same file."""
        if key is None:
            return _send(response, await run())
        outcome = await self.begin(tenant, key, fingerprint)
        if isinstance(outcome, Answer):  # the earlier request's, to replay
            if body is not None:
                await _check_same_file(body, outcome.body_sha256)
            response.headers["Idempotent-Replayed"] = "true"
            return _send(response, outcome)
        try:
            answer = await run()
        except BaseException:  # nothing to replay: the key may be used again
            await asyncio.shield(self.release(outcome))
            raise
        await self.finish(outcome, answer)
        return _send(response, answer)

    async def begin(
        self, tenant: str, key: str, request_fingerprint: str, *, wait_seconds: float = 60.0
    ) -> Reservation | Answer:
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
                return Answer(
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

    async def finish(self, reservation: Reservation, answer: Answer) -> None:
        values: dict[str, Any] = {
            ":done": {"S": "done"},
            ":status": {"N": str(answer.status)},
            ":body": {"S": json.dumps(answer.body)},
            ":headers": {"S": json.dumps(answer.headers)},
        }
        expression = (
            "SET #status = :done, response_status = :status, response_body = :body, "
            "response_headers = :headers"
        )
        if answer.body_sha256:
            values[":sha"] = {"S": answer.body_sha256}
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
