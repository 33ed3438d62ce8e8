"""One reconciler pass, and the loop of `chute reconcile --every`.

A pass: read the queue's counts; sweep the DLQ (a dead-lettered message whose job is not
terminal ends the job with the DLQ's reason); query the due index for overdue jobs; read
each one consistently and repair it (`repairs.py`). The queue is read before the jobs,
so that a message received meanwhile can only make a job look less lost, never more.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chute_core.errors import JobNotFound, TransitionConflict
from chute_core.jobs import TERMINAL, Job, JobError, JobState, iso, utcnow
from chute_core.logs import get_logger
from chute_ops.reconciler import metrics
from chute_ops.reconciler.evidence import QueueSnapshot, StoredObject, stored
from chute_ops.reconciler.lost_messages import presumed_lost
from chute_ops.reconciler.overdue import overdue_job_ids
from chute_ops.reconciler.repairs import Repair, Repairs
from chute_worker.dlq import Dlq

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["PassReport", "Reconciler"]

log = get_logger("chute.reconciler")
CONCURRENCY = 16  # jobs repaired at once


@dataclass
class PassReport:
    overdue: int = 0
    repairs: list[Repair] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, action: str) -> int:
        return sum(1 for r in self.repairs if r.action == action)


@dataclass
class Reconciler:
    repairs: Repairs
    dlq: Dlq
    ddb: DynamoDBClient
    table: str
    batch: int  # overdue jobs looked at per pass, at most

    async def run_once(self) -> PassReport:
        started = time.monotonic()
        report = PassReport()
        queue = await QueueSnapshot.read(self.repairs.sqs, self.repairs.queue_url)
        report.repairs += await self._sweep_dlq()
        ids = [
            job_id
            async for job_id in overdue_job_ids(
                self.ddb, self.table, now=int(time.time()), limit=self.batch
            )
        ]
        jobs = await self._read(ids)
        report.overdue = len(jobs)
        report.repairs += await self._repair(jobs, queue)
        report.seconds = time.monotonic() - started
        metrics.LAST_PASS_REPAIRS.clear()
        for repair in report.repairs:
            metrics.REPAIRS.labels(state=repair.state, action=repair.action).inc()
            metrics.LAST_PASS_REPAIRS.labels(state=repair.state, action=repair.action).inc()
            if repair.action != "waiting":
                log.info(
                    "reconciler_repair",
                    job_id=repair.job_id,
                    state=repair.state,
                    action=repair.action,
                    found=repair.found,
                    **({"code": repair.code} if repair.code else {}),
                )
        metrics.OVERDUE.set(report.overdue)
        metrics.PASS_SECONDS.observe(report.seconds)
        metrics.LAST_SUCCESS.set(time.time())
        return report

    async def _read(self, ids: Sequence[str]) -> list[Job]:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(job_id: str) -> Job | None:
            async with gate:
                try:
                    return await self.repairs.store.get(job_id)
                except JobNotFound:  # expired by TTL since the index was read
                    return None

        # Still overdue: another reconciler may have repaired it since the index was read.
        now = time.time()
        read = await asyncio.gather(*map(one, ids))
        return [job for job in read if job is not None and (job.due_at or now) < now]

    async def _repair(self, jobs: Sequence[Job], queue: QueueSnapshot) -> list[Repair]:
        gate = asyncio.Semaphore(CONCURRENCY)
        repairs = self.repairs
        done: list[Repair] = []
        waiting: list[tuple[Job, StoredObject | None]] = []

        async def first_look(job: Job) -> None:
            async with gate:
                if job.state in TERMINAL:
                    done.append(await repairs.terminal(job))
                elif job.state in (JobState.AWAITING_UPLOAD, JobState.RECEIVING):
                    done.append(await repairs.upload(job))
                elif job.state is JobState.PROCESSING and (held := await repairs.processing(job)):
                    done.append(held)
                else:  # QUEUED, or PROCESSING under a lapsed lease: is its message lost?
                    obj = await stored(repairs.s3, job.object.bucket, job.object.key)
                    waiting.append((job, obj))

        await asyncio.gather(*map(first_look, jobs))
        lost = presumed_lost([job for job, obj in waiting if obj is not None], queue)

        async def resend(job: Job, obj: StoredObject | None) -> None:
            async with gate:
                done.append(await repairs.message(job, obj, lost=job.job_id in lost))

        await asyncio.gather(*(resend(job, obj) for job, obj in waiting))
        return done

    async def _sweep_dlq(self) -> list[Repair]:
        """Jobs whose message reached the DLQ while their record could not be written:
        terminal now, with the DLQ's reason. The messages stay for `chute dlq`."""
        swept: list[Repair] = []
        for letter in await self.dlq.peek():
            if letter.job_id is None:
                continue
            try:
                job = await self.repairs.store.get(letter.job_id)
            except JobNotFound:
                continue
            if job.state in TERMINAL:
                continue
            error = JobError(
                code=letter.reason,
                message=f"its message was dead-lettered ({letter.reason}) "
                f"after {letter.receive_count} receives",
            )
            try:
                await self.repairs.store.transition(
                    job.job_id,
                    JobState.FAILED,
                    sources={job.state},
                    set_values={"error": error.model_dump(), "finished_at": iso(utcnow())},
                    remove=("lease_owner", "lease_expires_at"),
                    returning=False,
                )
            except TransitionConflict:
                continue
            swept.append(Repair(job.job_id, job.state, "failed", "message in the DLQ", error.code))
        return swept
