"""The job runner in-process, against moto: what it decides for one delivery when the
object lies about its size, when the job is already done or held, when the chain
fails, and when shutdown cancels it mid-job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, cast

import pytest
import pytest_asyncio

from chute_core.aws import open_clients
from chute_core.errors import ProcessorError
from chute_core.events import ObjectCreated, parse_body
from chute_core.job_store import JobStore
from chute_core.jobs import DirectUpload, Job, JobState, ProcessingResult, iso, utcnow
from chute_core.keys import ObjectKeys
from chute_worker.chain import ChainFailed, ProcessorChain
from chute_worker.decisions import Action
from chute_worker.runner import Delivery, JobRunner
from chute_worker.settings import WorkerSettings
from tests.support.sample_jobs import sample_job
from tests.support.stack import Stack


@dataclass
class ScriptedChain:
    """Stands in for the processor chain (not for AWS): fails, or blocks until cancelled."""

    error: ProcessorError | None = None
    started: asyncio.Event | None = None

    async def run(self, job: Job, record: ObjectCreated) -> ProcessingResult:
        if self.error is not None:
            raise ChainFailed(self.error, ProcessingResult())
        assert self.started is not None
        self.started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


@dataclass
class Harness:
    stack: Stack
    store: JobStore
    clients: Any

    def runner(self, chain: ScriptedChain) -> JobRunner:
        return JobRunner(
            store=self.store,
            s3=self.clients.s3,
            keys=ObjectKeys.from_settings(self.stack.pipeline),
            pipeline=self.stack.pipeline,
            settings=WorkerSettings(worker_id="test-worker", retry_base_seconds=1),
            chain=cast(ProcessorChain, chain),
        )

    async def job(self, **changes: Any) -> tuple[Job, ObjectCreated]:
        job = sample_job()
        key = ObjectKeys.from_settings(self.stack.pipeline).incoming(job.tenant, job.job_id)
        job.object.bucket, job.object.key = self.stack.pipeline.bucket, key
        for name, value in changes.items():
            setattr(job, name, value)
        await self.store.create(job)
        body = b"12345"
        await self.clients.s3.put_object(Bucket=job.object.bucket, Key=key, Body=body)
        record = ObjectCreated(job.object.bucket, key, len(body), '"etag"', "Put", None)
        return job, record


def _delivery(record: ObjectCreated, receive_count: int = 1) -> Delivery:
    body = (
        '{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", '
        f'"s3": {{"bucket": {{"name": "{record.bucket}"}}, "object": {{"key": "{record.key}", '
        f'"size": {record.size}, "eTag": "etag"}}}}}}]}}'
    )

    async def extend(seconds: int) -> None:
        return None

    return Delivery("m-1", body, receive_count, extend)


@pytest_asyncio.fixture
async def harness(stack: Stack) -> AsyncIterator[Harness]:
    async with AsyncExitStack() as exit_stack:
        clients = await open_clients(exit_stack, stack.aws)
        yield Harness(stack, JobStore(clients.dynamodb, stack.pipeline.table), clients)


@pytest.mark.asyncio
async def test_an_object_of_another_size_than_declared_fails_the_job_and_is_deleted(
    harness: Harness,
) -> None:
    declared = DirectUpload(mode="post", declared_size=999, deadline=iso(utcnow()))
    job, record = await harness.job(direct_upload=declared)
    decision = await harness.runner(ScriptedChain()).handle(_delivery(record))
    after = await harness.store.get(job.job_id)
    assert decision.action is Action.DELETE
    assert after.state is JobState.FAILED
    assert after.error is not None
    assert after.error.code == "size_mismatch"
    listed = await harness.clients.s3.list_objects_v2(Bucket=record.bucket, Prefix=record.key)
    assert listed.get("KeyCount", 0) == 0


@pytest.mark.asyncio
async def test_an_event_for_a_finished_job_is_deleted_without_processing(
    harness: Harness,
) -> None:
    job, record = await harness.job(state=JobState.SUCCEEDED)
    delivery = _delivery(record)
    (event,) = cast(list[ObjectCreated], parse_body(delivery.body))
    await harness.store.annotate(job.job_id, {"processed_etag": event.etag})
    chain = ScriptedChain(error=ProcessorError("must_not_run", "ran", retryable=False))
    decision = await harness.runner(chain).handle(delivery)
    assert decision.action is Action.DELETE
    assert (await harness.store.get(job.job_id)).state is JobState.SUCCEEDED


@pytest.mark.asyncio
async def test_a_retryable_failure_requeues_the_job_and_retries_the_message(
    harness: Harness,
) -> None:
    job, record = await harness.job()
    chain = ScriptedChain(error=ProcessorError("aws_unavailable", "slow", retryable=True))
    decision = await harness.runner(chain).handle(_delivery(record))
    after = await harness.store.get(job.job_id)
    assert decision.action is Action.RETRY
    assert decision.visibility is not None
    assert after.state is JobState.QUEUED
    assert after.lease_owner is None
    assert after.error is not None
    assert after.error.retryable


@pytest.mark.asyncio
async def test_a_permanent_failure_fails_the_job_and_deletes_the_message(
    harness: Harness,
) -> None:
    job, record = await harness.job()
    chain = ScriptedChain(error=ProcessorError("bad_input", "unreadable", retryable=False))
    decision = await harness.runner(chain).handle(_delivery(record))
    after = await harness.store.get(job.job_id)
    assert decision.action is Action.DELETE
    assert after.state is JobState.FAILED
    assert after.finished_at is not None
    assert after.error is not None
    assert after.error.code == "bad_input"


@pytest.mark.asyncio
async def test_a_job_cancelled_by_shutdown_is_released_for_another_worker(
    harness: Harness,
) -> None:
    job, record = await harness.job()
    started = asyncio.Event()
    task = asyncio.create_task(
        harness.runner(ScriptedChain(started=started)).handle(_delivery(record))
    )
    await started.wait()
    assert (await harness.store.get(job.job_id)).state is JobState.PROCESSING
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    after = await harness.store.get(job.job_id)
    assert after.state is JobState.QUEUED
    assert after.lease_owner is None
