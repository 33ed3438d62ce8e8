"""Every non-terminal state carries a deadline in the sparse due index; terminal removes
it (chute_core.due), against DynamoDB on moto."""

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio

from chute_core.aws import open_clients
from chute_core.due import DuePolicy, shard_of
from chute_core.errors import TransitionConflict
from chute_core.job_store import JobStore
from chute_core.jobs import DirectUpload, JobState, ObjectInfo, iso, new_job, new_job_id, utcnow
from tests.support.stack import Stack

POLICY = DuePolicy(stuck_after_seconds=300, grace_seconds=30)


@pytest_asyncio.fixture
async def store(stack: Stack) -> AsyncIterator[JobStore]:
    async with AsyncExitStack() as exit_stack:
        clients = await open_clients(exit_stack, stack.aws)
        yield JobStore(clients.dynamodb, stack.pipeline.table, due=POLICY)


def raw(stack: Stack, job_id: str) -> dict[str, Any]:
    item = stack.client("dynamodb").get_item(
        TableName=stack.pipeline.table, Key={"job_id": {"S": job_id}}, ConsistentRead=True
    )["Item"]
    return dict(item)


async def created(store: JobStore, state: JobState, **fields: Any) -> str:
    job_id = new_job_id()
    job = new_job(
        job_id=job_id,
        tenant="acme",
        obj=ObjectInfo(bucket="b", key=f"incoming/acme/{job_id}"),
        ttl=timedelta(days=1),
        state=state,
    )
    await store.create(job.model_copy(update=fields))
    return job_id


def due_at(item: dict[str, Any]) -> int:
    return int(item["due_at"]["N"])


@pytest.mark.asyncio
async def test_a_new_queued_job_is_due_after_stuck_after_in_its_shard(
    store: JobStore, stack: Stack
) -> None:
    job_id = await created(store, JobState.QUEUED)
    item = raw(stack, job_id)
    assert item["due_shard"] == {"S": shard_of(job_id)}
    assert abs(due_at(item) - (time.time() + 300)) < 5


@pytest.mark.asyncio
async def test_a_presigned_upload_is_due_at_its_deadline_plus_grace(
    store: JobStore, stack: Stack
) -> None:
    deadline = utcnow() + timedelta(seconds=900)
    direct = DirectUpload(mode="post", deadline=iso(deadline))
    job_id = await created(store, JobState.AWAITING_UPLOAD, direct_upload=direct)
    assert abs(due_at(raw(stack, job_id)) - (deadline.timestamp() + 30)) < 2


@pytest.mark.asyncio
async def test_a_claim_makes_the_job_due_at_its_lease_expiry_plus_grace(
    store: JobStore, stack: Stack
) -> None:
    job_id = await created(store, JobState.QUEUED)
    await store.claim(job_id, owner="w1", lease_seconds=60, etag=None)
    assert abs(due_at(raw(stack, job_id)) - (time.time() + 90)) < 5


@pytest.mark.asyncio
async def test_a_heartbeat_within_processing_leaves_the_deadline_alone(
    store: JobStore, stack: Stack
) -> None:
    job_id = await created(store, JobState.QUEUED)
    await store.claim(job_id, owner="w1", lease_seconds=60, etag=None)
    before = due_at(raw(stack, job_id))
    await store.transition(
        job_id,
        JobState.PROCESSING,
        sources={JobState.PROCESSING},
        lease_owner="w1",
        set_values={"lease_expires_at": iso(utcnow() + timedelta(seconds=600))},
    )
    assert due_at(raw(stack, job_id)) == before


@pytest.mark.asyncio
async def test_the_terminal_transition_removes_the_deadline_from_the_index(
    store: JobStore, stack: Stack
) -> None:
    job_id = await created(store, JobState.QUEUED)
    await store.claim(job_id, owner="w1", lease_seconds=60, etag=None)
    await store.transition(job_id, JobState.SUCCEEDED, lease_owner="w1")
    item = raw(stack, job_id)
    assert "due_at" not in item
    assert "due_shard" not in item


@pytest.mark.asyncio
async def test_a_terminal_transition_may_keep_a_deadline_it_names(
    store: JobStore, stack: Stack
) -> None:
    job_id = await created(store, JobState.QUEUED)
    await store.claim(job_id, owner="w1", lease_seconds=60, etag=None)
    await store.transition(job_id, JobState.SUCCEEDED, lease_owner="w1", set_values={"due_at": 7})
    assert due_at(raw(stack, job_id)) == 7
    assert (await store.get(job_id)).due_at == 7


@pytest.mark.asyncio
async def test_a_transition_expecting_another_deadline_is_refused(store: JobStore) -> None:
    job_id = await created(store, JobState.QUEUED)
    seen = (await store.get(job_id)).due_at
    assert seen is not None
    with pytest.raises(TransitionConflict):
        await store.transition(job_id, JobState.FAILED, due_was=seen + 1)
    failed = await store.transition(job_id, JobState.FAILED, due_was=seen)
    assert failed.state is JobState.FAILED
    assert failed.due_at is None


@pytest.mark.asyncio
async def test_the_deadline_never_reaches_the_api_answer(store: JobStore) -> None:
    job_id = await created(store, JobState.QUEUED)
    job = await store.get(job_id)
    assert job.due_at is not None
    assert "due_at" not in job.model_dump()
    assert "republished" not in job.model_dump()
