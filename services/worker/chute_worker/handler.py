"""One message: parse it, claim each job it names, run the processor, finish the job.

Every state change is a conditional write; losing a race is an ordinary outcome
(logged, then the message is deleted or retried), never an exception.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from chute_core.errors import JobNotFound, PoisonMessage, ProcessorError, TransitionConflict
from chute_core.events import ObjectCreated, S3TestEvent, parse_body
from chute_core.job_store import JobStore
from chute_core.jobs import ISO_FORMAT, TERMINAL, Job, JobState, iso, utcnow
from chute_core.keys import ObjectKeys
from chute_core.logs import get_logger
from chute_core.settings import PipelineSettings
from chute_worker.decisions import Action, Decision
from chute_worker.heartbeat import ExtendVisibility, heartbeat
from chute_worker.processors import Processor, ProcessorContext

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["JobRunner"]

log = get_logger(__name__)
LEASE_FIELDS = ("lease_owner", "lease_expires_at")


@dataclass(frozen=True)
class JobRunner:
    store: JobStore
    s3: S3Client
    keys: ObjectKeys
    pipeline: PipelineSettings
    processor: Processor
    worker_id: str

    async def handle(
        self,
        *,
        message_id: str,
        body: str,
        receive_count: int,
        extend_visibility: ExtendVisibility,
    ) -> Decision:
        try:
            parsed = parse_body(body)
            if isinstance(parsed, S3TestEvent):
                log.info("test_event_ignored", message_id=message_id, bucket=parsed.bucket)
                return Decision.delete()
            decisions = [
                await self._handle_record(record, message_id, receive_count, extend_visibility)
                for record in parsed
            ]
        except PoisonMessage as exc:
            log.warning(
                "poison_message", message_id=message_id, reason=exc.reason, detail=exc.detail
            )
            return Decision.dead_letter(exc.reason)
        retries = [d for d in decisions if d.action is Action.RETRY]
        return retries[0] if retries else Decision.delete()

    async def _handle_record(
        self,
        record: ObjectCreated,
        message_id: str,
        receive_count: int,
        extend_visibility: ExtendVisibility,
    ) -> Decision:
        if record.bucket != self.pipeline.bucket:
            raise PoisonMessage("unknown_bucket", f"event for bucket {record.bucket}")
        tenant, job_id = self.keys.parse_incoming(record.key)
        try:
            job = await self._claim(job_id)
        except JobNotFound:
            raise PoisonMessage("no_job", f"no job record for {record.key}") from None
        except TransitionConflict as conflict:
            return self._after_conflict(conflict.current, message_id)
        if job.tenant != tenant:
            raise PoisonMessage("tenant_mismatch", f"job {job_id} is not {tenant}'s")
        return await self._run(job, record, message_id, receive_count, extend_visibility)

    async def _claim(self, job_id: str) -> Job:
        now = utcnow()
        lease_until = now + timedelta(seconds=self.pipeline.visibility_timeout_seconds)
        return await self.store.transition(
            job_id,
            JobState.PROCESSING,
            takeover_expired_before=iso(now),
            set_values={
                "lease_owner": self.worker_id,
                "lease_expires_at": iso(lease_until),
                "started_at": iso(now),
            },
            remove=("error",),
            count_attempt=True,
        )

    def _after_conflict(self, current: Job, message_id: str) -> Decision:
        log.info(
            "claim_conflict",
            job_id=current.job_id,
            message_id=message_id,
            state=current.state,
            lease_owner=current.lease_owner,
        )
        if current.state in TERMINAL:
            return Decision.delete()  # a duplicate of work already done
        # Someone holds the job: look again when their lease would lapse without a
        # heartbeat; by then it is finished (delete) or claimable (take over).
        return Decision.retry(self._lease_remaining(current))

    def _lease_remaining(self, job: Job) -> int:
        full = self.pipeline.visibility_timeout_seconds
        if not job.lease_expires_at:
            return full
        expires = datetime.strptime(job.lease_expires_at, ISO_FORMAT).replace(tzinfo=UTC)
        return max(1, min(full, math.ceil((expires - utcnow()).total_seconds()) + 1))

    async def _run(
        self,
        job: Job,
        record: ObjectCreated,
        message_id: str,
        receive_count: int,
        extend_visibility: ExtendVisibility,
    ) -> Decision:
        started = time.monotonic()
        ctx = ProcessorContext(
            job=job, bucket=record.bucket, key=record.key, keys=self.keys, s3=self.s3
        )
        try:
            async with heartbeat(
                store=self.store,
                job_id=job.job_id,
                owner=self.worker_id,
                visibility=self.pipeline.visibility_timeout_seconds,
                extend_visibility=extend_visibility,
            ):
                summary = await self.processor.process(ctx)
        except Exception as exc:
            error = (
                exc
                if isinstance(exc, ProcessorError)
                else ProcessorError(
                    "processor_error", f"{type(exc).__name__}: {exc}", retryable=True
                )
            )
            return await self._fail(job, error, message_id, receive_count, started)
        values: dict[str, object] = {
            "result": {"processor": self.processor.name, "summary": summary},
            "finished_at": iso(utcnow()),
        }
        for field in ("sha256", "detected_type"):
            if field in summary:
                values[field] = summary[field]
        try:
            await self.store.transition(
                job.job_id,
                JobState.SUCCEEDED,
                lease_owner=self.worker_id,
                set_values=values,
                remove=LEASE_FIELDS,
            )
        except TransitionConflict as conflict:
            # Our lease lapsed and someone else took over: their result stands.
            return self._after_conflict(conflict.current, message_id)
        log.info(
            "job_succeeded",
            job_id=job.job_id,
            tenant=job.tenant,
            message_id=message_id,
            attempts=job.attempts,
            seconds=round(time.monotonic() - started, 4),
        )
        return Decision.delete()

    async def _fail(
        self,
        job: Job,
        error: ProcessorError,
        message_id: str,
        receive_count: int,
        started: float,
    ) -> Decision:
        last_try = receive_count >= self.pipeline.max_receive_count
        record = {"code": error.code, "message": error.message[:1000], "retryable": error.retryable}
        final = not error.retryable or last_try
        try:
            if final:
                await self.store.transition(
                    job.job_id,
                    JobState.FAILED,
                    lease_owner=self.worker_id,
                    set_values={"error": record, "finished_at": iso(utcnow())},
                    remove=LEASE_FIELDS,
                )
            else:
                await self.store.transition(
                    job.job_id,
                    JobState.QUEUED,
                    sources={JobState.PROCESSING},
                    lease_owner=self.worker_id,
                    set_values={"error": record},
                    remove=LEASE_FIELDS,
                )
        except TransitionConflict as conflict:
            return self._after_conflict(conflict.current, message_id)
        log.warning(
            "job_failed" if final else "job_will_retry",
            job_id=job.job_id,
            tenant=job.tenant,
            message_id=message_id,
            code=error.code,
            error=error.message,
            receive_count=receive_count,
            seconds=round(time.monotonic() - started, 4),
        )
        if not error.retryable:
            return Decision.delete()
        # Retryable: leave the message; after maxReceiveCount receives SQS moves it to the DLQ.
        return Decision.retry()
