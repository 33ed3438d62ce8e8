"""The job store's conditional transitions, against DynamoDB on moto."""

import asyncio
from datetime import timedelta

import pytest

from chute_core.errors import JobNotFound, TransitionConflict
from chute_core.job_store import JobStore
from chute_core.jobs import Job, JobState, ObjectInfo, new_job, new_job_id

RACES = 10


async def queued_job(store: JobStore) -> Job:
    job_id = new_job_id()
    job = new_job(
        job_id=job_id,
        tenant="acme",
        obj=ObjectInfo(bucket="b", key=f"incoming/acme/{job_id}"),
        ttl=timedelta(days=1),
        state=JobState.QUEUED,
    )
    await store.create(job)
    return job


@pytest.mark.asyncio
async def test_twenty_concurrent_claims_have_exactly_one_winner(store: JobStore) -> None:
    for _ in range(RACES):  # several races: a non-atomic store loses some of them
        job = await queued_job(store)
        results = await asyncio.gather(
            *(
                store.claim(job.job_id, owner=f"w{i}", lease_seconds=60, etag="e1")
                for i in range(20)
            ),
            return_exceptions=True,
        )
        winners = [r for r in results if isinstance(r, Job)]
        assert len(winners) == 1
        assert all(isinstance(r, TransitionConflict) for r in results if not isinstance(r, Job))
        current = await store.get(job.job_id)
        assert current.lease_owner == winners[0].lease_owner
        assert current.attempts == 1


@pytest.mark.asyncio
async def test_finish_is_refused_to_a_worker_not_holding_the_lease(store: JobStore) -> None:
    job = await queued_job(store)
    await store.claim(job.job_id, owner="holder", lease_seconds=60, etag="e1")
    with pytest.raises(TransitionConflict) as caught:
        await store.transition(job.job_id, JobState.SUCCEEDED, lease_owner="intruder")
    assert caught.value.current.lease_owner == "holder"
    done = await store.transition(job.job_id, JobState.SUCCEEDED, lease_owner="holder")
    assert done.state is JobState.SUCCEEDED


@pytest.mark.asyncio
async def test_expired_lease_can_be_taken_over_and_counts_the_attempt(store: JobStore) -> None:
    job = await queued_job(store)
    await store.claim(job.job_id, owner="dead", lease_seconds=0, etag="e1")
    taken = await store.claim(job.job_id, owner="alive", lease_seconds=60, etag="e1")
    assert taken.lease_owner == "alive"
    assert taken.attempts == 2
    with pytest.raises(TransitionConflict):  # a live lease cannot be taken
        await store.claim(job.job_id, owner="third", lease_seconds=60, etag="e1")


@pytest.mark.asyncio
async def test_terminal_job_is_reclaimed_only_for_a_different_object(store: JobStore) -> None:
    job = await queued_job(store)
    await store.claim(job.job_id, owner="w", lease_seconds=60, etag="e1")
    await store.transition(
        job.job_id, JobState.SUCCEEDED, lease_owner="w", set_values={"processed_etag": "e1"}
    )
    with pytest.raises(TransitionConflict) as caught:  # a duplicate event: same object
        await store.claim(job.job_id, owner="w2", lease_seconds=60, etag="e1")
    assert caught.value.current.state is JobState.SUCCEEDED
    again = await store.claim(job.job_id, owner="w2", lease_seconds=60, etag="e2")
    assert again.state is JobState.PROCESSING  # a genuinely new object under the job


@pytest.mark.asyncio
async def test_unknown_job_is_not_found_and_no_transition_creates_it(store: JobStore) -> None:
    unknown = new_job_id()
    with pytest.raises(JobNotFound):
        await store.claim(unknown, owner="w", lease_seconds=60, etag=None)
    with pytest.raises(JobNotFound):
        await store.transition(unknown, JobState.SUCCEEDED, returning=False)
    with pytest.raises(JobNotFound):
        await store.get(unknown)


@pytest.mark.asyncio
async def test_other_tenants_job_is_not_found(store: JobStore) -> None:
    job = await queued_job(store)
    with pytest.raises(JobNotFound):
        await store.get(job.job_id, tenant="someone-else")
