"""One reconciler pass, and the loop of `chute reconcile --every`.

A pass: read each pool's queue counts; sweep the DLQs (a dead-lettered message whose job is not
terminal ends the job with the DLQ's reason); query the due index for overdue jobs;
judge the ones waiting for a message from the index entries (`lost_messages.py`; with
several pools, from their records, which name the pool whose queue to judge by); read
the rest and the presumed lost consistently and repair them (`repairs.py`). The queue is
read before the index, so that a message received meanwhile can only make a job look
less lost, never more.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chute_core.errors import JobNotFound, TransitionConflict
from chute_core.jobs import TERMINAL, Job, JobError, JobState, iso, utcnow
from chute_core.logs import get_logger
from chute_core.pools import DEFAULT_POOL
from chute_ops.reconciler import metrics
from chute_ops.reconciler.evidence import QueueSnapshot, stored
from chute_ops.reconciler.lost_messages import presumed_lost
from chute_ops.reconciler.overdue import Overdue, overdue_jobs
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
    dlqs: list[Dlq]  # one per pool
    ddb: DynamoDBClient
    table: str
    batch: int  # overdue jobs looked at per pass, at most
    _seen: set[tuple[str, str]] = field(default_factory=set)  # (state, action) reported

    async def run_once(self) -> PassReport:
        started = time.monotonic()
        report = PassReport()
        queues = {
            pool: await QueueSnapshot.read(self.repairs.sqs, url)
            for pool, url in self.repairs.queue_urls.items()
        }
        report.repairs += await self._sweep_dlq()
        entries = [
            entry
            async for entry in overdue_jobs(
                self.ddb, self.table, now=int(time.time()), limit=self.batch
            )
        ]
        report.overdue = len(entries)
        # Judged from the index alone: a legitimate backlog costs no read per job.
        waiting = [e for e in entries if e.waits_for_a_message]
        lost = await self._lost(waiting, queues)
        report.repairs += [
            Repair(e.job_id, e.state, "waiting", "the queue may still hold it")
            for e in waiting
            if e.job_id not in lost
        ]
        to_read = [e.job_id for e in entries if e.job_id in lost or not e.waits_for_a_message]
        report.repairs += await self._repair(await self._read(to_read), lost)
        report.seconds = time.monotonic() - started
        latest = Counter((str(r.state), r.action) for r in report.repairs)
        self._seen.update(latest)
        for state, action in self._seen:  # 0 once seen, rather than a vanishing series
            metrics.LAST_PASS_REPAIRS.labels(state=state, action=action).set(
                latest[(state, action)]
            )
        for repair in report.repairs:
            if repair.action == "waiting":  # the others were counted as they happened
                metrics.REPAIRS.labels(state=repair.state, action=repair.action).inc()
        metrics.OVERDUE.set(report.overdue)
        metrics.PASS_SECONDS.observe(report.seconds)
        metrics.LAST_SUCCESS.set(time.time())
        return report

    async def _lost(
        self, waiting: Sequence[Overdue], queues: Mapping[str, QueueSnapshot]
    ) -> set[str]:
        if len(queues) == 1:  # one pool: judged from the index alone
            return presumed_lost(waiting, queues[DEFAULT_POOL])
        # The index does not name the pool: read the waiting jobs, judge each pool's
        # by its own queue (a pool since removed: by the default pool's).
        by_pool: dict[str, list[Job]] = {}
        for job in await self._read([e.job_id for e in waiting]):
            pool = job.pool if job.pool in queues else DEFAULT_POOL
            by_pool.setdefault(pool, []).append(job)
        return {
            job_id for pool, jobs in by_pool.items() for job_id in presumed_lost(jobs, queues[pool])
        }

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

    async def _repair(self, jobs: Sequence[Job], lost: set[str]) -> list[Repair]:
        gate = asyncio.Semaphore(CONCURRENCY)
        repairs = self.repairs

        async def one(job: Job) -> Repair:
            async with gate:
                if job.state in TERMINAL:
                    return await repairs.terminal(job)
                if job.state in (JobState.AWAITING_UPLOAD, JobState.RECEIVING):
                    return await repairs.upload(job)
                if job.state is JobState.PROCESSING and (held := await repairs.processing(job)):
                    return held
                # QUEUED, or PROCESSING under a lapsed lease: its message is presumed lost.
                obj = await stored(repairs.s3, job.object.bucket, job.object.key)
                return await repairs.message(job, obj, lost=job.job_id in lost)

        async def noted(job: Job) -> Repair:
            return _noted(await one(job))

        return list(await asyncio.gather(*map(noted, jobs)))

    async def _sweep_dlq(self) -> list[Repair]:
        """Jobs whose message reached the DLQ while their record could not be written:
        terminal now, with the DLQ's reason. The messages stay for `chute dlq`."""
        swept: list[Repair] = []
        letters = [letter for dlq in self.dlqs for letter in await dlq.peek()]
        for letter in letters:
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
            repair = Repair(job.job_id, job.state, "failed", "message in the DLQ", error.code)
            swept.append(_noted(repair))
        return swept


def _noted(repair: Repair) -> Repair:
    """Count and log a repair the moment it is done: one line per job."""
    metrics.REPAIRS.labels(state=repair.state, action=repair.action).inc()
    if repair.action != "waiting":
        log.info(
            "reconciler_repair",
            job_id=repair.job_id,
            state=repair.state,
            action=repair.action,
            found=repair.found,
            **({"code": repair.code} if repair.code else {}),
        )
    return repair
