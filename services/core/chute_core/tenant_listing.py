"""A tenant's jobs, newest first, from the sharded tenant index (docs/capacity.md).

One tenant's jobs spread over `TENANT_SHARDS` partition keys, `{tenant}#{crc32(job_id)
mod TENANT_SHARDS}`, so that a large tenant's writes never exceed one partition's 1,000
WCU. A page queries every shard (concurrently) and merges them newest first; its
position is each unfinished shard's place: "^" not started, "created_at job_id" resume
after that job, and a shard missing from the position is finished.

A shard that stopped early (a filter left fewer matches than asked within the query
budget) has unread jobs older than where it stopped, which may be newer than another
shard's: the page then ends at that point, so that no job is ever skipped.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chute_core._list_filter import list_filter
from chute_core.jobs import Job, JobState

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["TENANT_INDEX", "TENANT_SHARDS", "tenant_page", "tenant_shard"]

TENANT_INDEX = "tenant_shard-created_at"
TENANT_SHARDS = 8
START = "^"


def tenant_shard(tenant: str, job_id: str) -> str:
    return f"{tenant}#{zlib.crc32(job_id.encode()) % TENANT_SHARDS}"


@dataclass
class _Shard:
    key: str  # the shard's partition key
    at: str  # where it resumes: START or "created_at job_id"
    jobs: list[Job] = field(default_factory=list)
    resume: dict[str, Any] | None = None  # LastEvaluatedKey where reading stopped

    def start_key(self) -> dict[str, Any] | None:
        if self.at == START:
            return None
        created_at, job_id = self.at.split(" ")
        return {
            "job_id": {"S": job_id},
            "tenant_shard": {"S": self.key},
            "created_at": {"S": created_at},
        }


def _place(resume: Mapping[str, Any]) -> str:
    return f"{resume['created_at']['S']} {resume['job_id']['S']}"


async def _read(
    client: DynamoDBClient,
    table: str,
    shard: _Shard,
    *,
    state: JobState | None,
    pool: str | None,
    limit: int,
    max_queries: int,
    parse: Callable[[Mapping[str, Any]], Job],
) -> None:
    start = shard.start_key()
    for _ in range(max_queries):
        values: dict[str, Any] = {":shard": {"S": shard.key}}
        params: dict[str, Any] = {
            "TableName": table,
            "IndexName": TENANT_INDEX,
            "KeyConditionExpression": "tenant_shard = :shard",
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": limit - len(shard.jobs),
            **list_filter(state, pool, values),
        }
        if start:
            params["ExclusiveStartKey"] = start
        response = await client.query(**params)
        shard.jobs += [parse(item) for item in response.get("Items", [])]
        start = shard.resume = response.get("LastEvaluatedKey")
        if start is None or len(shard.jobs) >= limit:
            return


async def tenant_page(
    client: DynamoDBClient,
    table: str,
    tenant: str,
    *,
    state: JobState | None,
    pool: str | None,
    limit: int,
    position: Mapping[str, str] | None,
    parse: Callable[[Mapping[str, Any]], Job],
    max_queries: int = 10,
) -> tuple[list[Job], dict[str, str] | None]:
    """Up to `limit` of the tenant's jobs, newest first, and the position of the next
    page (None when every shard is finished)."""
    places = (
        dict(position) if position is not None else {str(n): START for n in range(TENANT_SHARDS)}
    )
    shards = {n: _Shard(f"{tenant}#{n}", at) for n, at in places.items()}
    await asyncio.gather(
        *(
            _read(
                client,
                table,
                s,
                state=state,
                pool=pool,
                limit=limit,
                max_queries=max_queries,
                parse=parse,
            )
            for s in shards.values()
        )
    )
    # A shard short of `limit` that is not finished: the page may not pass where it stopped.
    cutoffs = [_place(s.resume) for s in shards.values() if s.resume and len(s.jobs) < limit]
    floor = max(cutoffs, default="")
    candidates = sorted(
        ((f"{job.created_at} {job.job_id}", n, job) for n, s in shards.items() for job in s.jobs),
        reverse=True,
    )
    # The floor is the last job such a shard evaluated: read, so on the page if it matched.
    page = [c for c in candidates if c[0] >= floor][:limit]
    taken: dict[str, list[str]] = {}
    for place, n, _ in page:
        taken.setdefault(n, []).append(place)
    following: dict[str, str] = {}
    for n, s in shards.items():
        mine = taken.get(n, [])
        if len(mine) < len(s.jobs):  # some of what it read is for the next page
            following[n] = mine[-1] if mine else s.at
        elif s.resume is not None:  # all taken, more to read after where it stopped
            following[n] = _place(s.resume)
    return [job for _, _, job in page], following or None
