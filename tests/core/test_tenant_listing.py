"""A tenant's listing over the sharded tenant index, against moto: every job exactly
once, newest first, across page sizes, filters and a starved query budget."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from chute_core.job_store import JobStore
from chute_core.jobs import Job, JobState, ObjectInfo, new_job, new_job_id
from chute_core.tenant_listing import TENANT_SHARDS, tenant_shard

JOBS = 30


async def _jobs(store: JobStore, tenant: str, count: int) -> list[Job]:
    made = []
    for n in range(count):
        job_id = new_job_id()
        job = new_job(
            job_id=job_id,
            tenant=tenant,
            obj=ObjectInfo(bucket="b", key=f"incoming/{tenant}/{job_id}"),
            ttl=timedelta(days=1),
            state=JobState.QUEUED if n % 3 else JobState.FAILED,
        )
        await store.create(job)
        made.append(job)
    return made


async def _all_pages(
    store: JobStore,
    tenant: str,
    *,
    limit: int,
    state: JobState | None = None,
    max_queries: int = 10,
) -> list[list[str]]:
    pages, position = [], None
    while True:
        jobs, position = await store.list_for_tenant(
            tenant, state=state, limit=limit, start=position, max_queries=max_queries
        )
        pages.append([j.job_id for j in jobs])
        if position is None:
            return pages


def test_one_tenants_jobs_spread_evenly_over_every_shard() -> None:
    """8,000 ids: each shard's count within 5 standard deviations (about 150) of 1,000."""
    counts = Counter(tenant_shard("acme", new_job_id()) for _ in range(8000))
    assert sorted(counts) == [f"acme#{n}" for n in range(TENANT_SHARDS)]
    assert all(850 <= n <= 1150 for n in counts.values()), counts


@pytest.mark.asyncio
@pytest.mark.parametrize("limit", [1, 7, 100])
async def test_pages_list_every_job_once_newest_first(store: JobStore, limit: int) -> None:
    made = await _jobs(store, "acme", JOBS)
    await _jobs(store, "other", 3)
    pages = await _all_pages(store, "acme", limit=limit)
    assert [j for page in pages for j in page] == [j.job_id for j in reversed(made)]
    assert all(len(page) <= limit for page in pages)


@pytest.mark.asyncio
async def test_a_filter_with_a_starved_query_budget_skips_nothing(store: JobStore) -> None:
    made = await _jobs(store, "acme", JOBS)
    failed = [j.job_id for j in reversed(made) if j.state is JobState.FAILED]
    pages = await _all_pages(store, "acme", limit=2, state=JobState.FAILED, max_queries=1)
    assert [j for page in pages for j in page] == failed
