"""`chute reconcile`'s repairs, one overdue state at a time, in process against moto.

Jobs are made overdue by creating them through a store whose deadlines lie in the past;
the reconciler under test keeps the pipeline's own deadlines for what it writes."""

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio

from chute_core.aws import AsyncClients, open_clients
from chute_core.due import DuePolicy
from chute_core.events import object_created_message
from chute_core.jobs import (
    DirectUpload,
    Job,
    JobState,
    ObjectInfo,
    iso,
    new_job,
    new_job_id,
    utcnow,
)
from chute_core.keys import ObjectKeys
from chute_core.resumable_jobs import ResumableJobs
from chute_ops.reconciler.repairs import Repairs
from chute_ops.reconciler.run import PassReport, Reconciler
from chute_worker.dlq import Dlq
from tests.conftest import StackFactory
from tests.support.stack import Stack

OVERDUE = DuePolicy(stuck_after_seconds=-60, grace_seconds=-60)  # due a minute ago


@dataclass
class Bench:
    stack: Stack
    clients: AsyncClients
    overdue: ResumableJobs  # writes jobs that are overdue at once

    def reconciler(self, *, stuck_after: float = 60, max_republish: int = 5) -> Reconciler:
        p = self.stack.pipeline
        store = ResumableJobs(
            self.clients.dynamodb, p.table, due=DuePolicy(stuck_after, grace_seconds=0)
        )
        return Reconciler(
            repairs=Repairs(
                store=store,
                s3=self.clients.s3,
                sqs=self.clients.sqs,
                queue_urls={pool.name: self.stack.queue_url(pool.queue) for pool in p.pool_set()},
                max_republish=max_republish,
            ),
            dlqs=[
                Dlq(
                    sqs=self.clients.sqs,
                    jobs=store,
                    keys=ObjectKeys.from_settings(p),
                    queue=pool.queue,
                    dlq=pool.dlq,
                )
                for pool in p.pool_set()
            ],
            ddb=self.clients.dynamodb,
            table=p.table,
            batch=1000,
        )

    async def job(
        self, state: JobState, *, stored: bool = True, pool: str = "default", **fields: Any
    ) -> Job:
        job_id = new_job_id()
        segment = self.stack.pipeline.pool_set().get(pool).segment
        key = ObjectKeys.from_settings(self.stack.pipeline).incoming("acme", job_id, segment)
        job = new_job(
            job_id=job_id,
            tenant="acme",
            obj=ObjectInfo(bucket=self.stack.pipeline.bucket, key=key),
            ttl=timedelta(days=1),
            state=state,
            pool=pool,
        ).model_copy(update=fields)
        await self.overdue.create(job)
        if stored:
            await self.put_object(key)
        return job

    async def put_object(self, key: str) -> str:
        put = await self.clients.s3.put_object(
            Bucket=self.stack.pipeline.bucket, Key=key, Body=b"payload"
        )
        return str(put["ETag"]).strip('"')

    async def messages(self, queue: str | None = None) -> list[dict[str, Any]]:
        got = await self.clients.sqs.receive_message(
            QueueUrl=self.stack.queue_url(queue), MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]


@pytest_asyncio.fixture
async def bench(stack: Stack) -> AsyncIterator[Bench]:
    async for made in _bench(stack):
        yield made


@pytest_asyncio.fixture
async def pooled_bench(make_stack: StackFactory) -> AsyncIterator[Bench]:
    async for made in _bench(make_stack(pools={"images": {}})):
        yield made


async def _bench(stack: Stack) -> AsyncIterator[Bench]:
    # Every event is lost: the bucket notifies nobody (these tests are about lost events).
    stack.client("s3").put_bucket_notification_configuration(
        Bucket=stack.pipeline.bucket, NotificationConfiguration={}
    )
    sqs = stack.client("sqs")
    while got := sqs.receive_message(
        QueueUrl=stack.queue_url(), MaxNumberOfMessages=10, WaitTimeSeconds=0
    ).get("Messages"):  # s3:TestEvent, sent when bootstrap configured the notification
        for message in got:
            sqs.delete_message(QueueUrl=stack.queue_url(), ReceiptHandle=message["ReceiptHandle"])
    async with AsyncExitStack() as exit_stack:
        clients = await open_clients(exit_stack, stack.aws)
        yield Bench(
            stack, clients, ResumableJobs(clients.dynamodb, stack.pipeline.table, due=OVERDUE)
        )


def repairs_of(report: PassReport, job: Job) -> list[tuple[str, str]]:
    return [(r.state, r.action) for r in report.repairs if r.job_id == job.job_id]


@pytest.mark.asyncio
async def test_a_lost_event_is_resent_to_its_jobs_pool_queue_only(pooled_bench: Bench) -> None:
    job = await pooled_bench.job(JobState.QUEUED, pool="images")
    report = await pooled_bench.reconciler().run_once()
    assert repairs_of(report, job) == [("QUEUED", "republished")]
    images = pooled_bench.stack.pipeline.pool_set().get("images").queue
    (body,) = await pooled_bench.messages(images)
    assert body["Records"][0]["s3"]["object"]["key"] == job.object.key
    assert await pooled_bench.messages() == []


@pytest.mark.asyncio
async def test_each_pools_backlog_is_judged_by_its_own_queue(pooled_bench: Bench) -> None:
    """The default pool's queue holds a message: its overdue job may still get it. The
    images pool's queue is empty: its overdue job's message is lost."""
    waiting = await pooled_bench.job(JobState.QUEUED)
    lost = await pooled_bench.job(JobState.QUEUED, pool="images")
    await pooled_bench.clients.sqs.send_message(
        QueueUrl=pooled_bench.stack.queue_url(), MessageBody="{}"
    )
    report = await pooled_bench.reconciler().run_once()
    assert repairs_of(report, waiting) == [("QUEUED", "waiting")]
    assert repairs_of(report, lost) == [("QUEUED", "republished")]


@pytest.mark.asyncio
async def test_a_queued_job_whose_message_was_lost_is_republished_with_its_etag(
    bench: Bench,
) -> None:
    job = await bench.job(JobState.QUEUED)
    report = await bench.reconciler().run_once()
    assert repairs_of(report, job) == [("QUEUED", "republished")]
    (body,) = await bench.messages()
    (record,) = body["Records"]
    assert record["s3"]["object"]["key"] == job.object.key
    assert record["s3"]["object"]["eTag"] == hashlib.md5(b"payload").hexdigest()  # noqa: S324
    after = bench.stack.job(job.job_id)
    assert after is not None
    assert (after["state"], after["republished"]) == ("QUEUED", 1)


@pytest.mark.asyncio
async def test_a_republished_job_is_not_due_again_before_its_backoff(bench: Bench) -> None:
    await bench.job(JobState.QUEUED)
    reconciler = bench.reconciler()
    first = await reconciler.run_once()
    assert first.count("republished") == 1
    second = await reconciler.run_once()
    assert second.overdue == 0


@pytest.mark.asyncio
async def test_a_queued_job_without_its_object_fails_upload_interrupted(bench: Bench) -> None:
    job = await bench.job(JobState.QUEUED, stored=False)
    report = await bench.reconciler().run_once()
    assert repairs_of(report, job) == [("QUEUED", "failed")]
    after = bench.stack.job(job.job_id)
    assert after is not None
    assert after["state"] == "FAILED"
    assert after["error"]["code"] == "upload_interrupted"
    assert "due_at" not in after


@pytest.mark.asyncio
async def test_a_backlog_the_queue_still_holds_gets_no_duplicates(bench: Bench) -> None:
    jobs = [await bench.job(JobState.QUEUED) for _ in range(5)]
    for job in jobs:  # each job's message is still in the queue
        body = object_created_message(job.object.bucket, job.object.key, size=7, etag="e")
        await bench.clients.sqs.send_message(QueueUrl=bench.stack.queue_url(), MessageBody=body)
    report = await bench.reconciler().run_once()
    assert [r.action for r in report.repairs] == ["waiting"] * 5


@pytest.mark.asyncio
async def test_more_waiting_jobs_than_queued_messages_republishes_the_oldest_excess(
    bench: Bench,
) -> None:
    jobs = [await bench.job(JobState.QUEUED) for _ in range(5)]
    for _ in range(2):
        await bench.clients.sqs.send_message(QueueUrl=bench.stack.queue_url(), MessageBody="x")
    report = await bench.reconciler().run_once()
    republished = {r.job_id for r in report.repairs if r.action == "republished"}
    assert republished == {j.job_id for j in jobs[:3]}


@pytest.mark.asyncio
async def test_a_job_republished_too_often_fails_event_lost(bench: Bench) -> None:
    job = await bench.job(JobState.QUEUED)
    await bench.overdue.annotate(job.job_id, {"republished": 2})
    report = await bench.reconciler(max_republish=2).run_once()
    assert repairs_of(report, job) == [("QUEUED", "failed")]
    after = bench.stack.job(job.job_id)
    assert after is not None
    assert after["error"]["code"] == "event_lost"


@pytest.mark.asyncio
async def test_a_receiving_upload_whose_object_is_stored_is_queued(bench: Bench) -> None:
    job = await bench.job(JobState.RECEIVING)
    report = await bench.reconciler().run_once()
    assert repairs_of(report, job) == [("RECEIVING", "queued")]
    assert len(await bench.messages()) == 1


@pytest.mark.asyncio
async def test_an_interrupted_stream_is_aborted_and_fails_upload_interrupted(
    bench: Bench,
) -> None:
    job = await bench.job(JobState.RECEIVING, stored=False)
    s3, bucket = bench.clients.s3, bench.stack.pipeline.bucket
    upload = await s3.create_multipart_upload(Bucket=bucket, Key=job.object.key)
    await s3.upload_part(
        Bucket=bucket, Key=job.object.key, UploadId=upload["UploadId"], PartNumber=1, Body=b"x"
    )
    report = await bench.reconciler(stuck_after=0).run_once()  # every part is stale
    assert repairs_of(report, job) == [("RECEIVING", "failed")]
    assert bench.stack.multipart_uploads() == []
    after = bench.stack.job(job.job_id)
    assert after is not None
    assert after["error"]["code"] == "upload_interrupted"


@pytest.mark.asyncio
async def test_a_stream_still_sending_parts_is_postponed(bench: Bench) -> None:
    job = await bench.job(JobState.RECEIVING, stored=False)
    s3, bucket = bench.clients.s3, bench.stack.pipeline.bucket
    upload = await s3.create_multipart_upload(Bucket=bucket, Key=job.object.key)
    await s3.upload_part(
        Bucket=bucket, Key=job.object.key, UploadId=upload["UploadId"], PartNumber=1, Body=b"x"
    )
    report = await bench.reconciler(stuck_after=600).run_once()
    assert repairs_of(report, job) == [("RECEIVING", "postponed")]
    assert len(bench.stack.multipart_uploads()) == 1
    await s3.abort_multipart_upload(Bucket=bucket, Key=job.object.key, UploadId=upload["UploadId"])


@pytest.mark.asyncio
async def test_an_unused_presigned_upload_fails_upload_expired(bench: Bench) -> None:
    direct = DirectUpload(mode="post", deadline=iso(utcnow() - timedelta(seconds=120)))
    job = await bench.job(JobState.AWAITING_UPLOAD, stored=False, direct_upload=direct)
    report = await bench.reconciler().run_once()
    assert repairs_of(report, job) == [("AWAITING_UPLOAD", "failed")]
    after = bench.stack.job(job.job_id)
    assert after is not None
    assert after["error"]["code"] == "upload_expired"


@pytest.mark.asyncio
async def test_a_dead_lettered_message_ends_its_job_with_the_dlq_reason(bench: Bench) -> None:
    job = await bench.job(JobState.QUEUED)
    dlq = bench.stack.queue_url(bench.stack.pipeline.dlq_name)
    body = json.dumps(
        {
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": bench.stack.pipeline.bucket},
                        "object": {"key": job.object.key},
                    },
                }
            ]
        }
    )
    await bench.clients.sqs.send_message(
        QueueUrl=dlq,
        MessageBody=body,
        MessageAttributes={"chute-reason": {"DataType": "String", "StringValue": "no_luck"}},
    )
    report = await bench.reconciler().run_once()
    assert repairs_of(report, job) == [("QUEUED", "failed")]
    after = bench.stack.job(job.job_id)
    assert after is not None
    assert after["error"]["code"] == "no_luck"
    attributes = await bench.clients.sqs.get_queue_attributes(
        QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "1"  # kept for chute dlq


@pytest.mark.asyncio
async def test_concurrent_reconcilers_republish_each_lost_job_once(bench: Bench) -> None:
    jobs = [await bench.job(JobState.QUEUED) for _ in range(10)]
    reports = await asyncio.gather(*(bench.reconciler().run_once() for _ in range(4)))
    republished = [
        r.job_id for report in reports for r in report.repairs if r.action == "republished"
    ]
    assert sorted(republished) == sorted(j.job_id for j in jobs)
