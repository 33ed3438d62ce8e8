"""One message: parse it, claim each job it names, run the processor chain, finish the
job, decide the message's fate (rules: decisions.py). Every state change is a conditional
write; losing a race is an ordinary outcome (logged, then deleted or retried)."""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
from opentelemetry import trace

from chute_core.errors import JobNotFound, PoisonMessage, ProcessorError, TransitionConflict
from chute_core.events import ObjectCreated, S3TestEvent, UploadDeadline, parse_body
from chute_core.jobs import Job, JobState, ProcessingResult, seconds_since, utcnow
from chute_core.keys import ObjectKeys
from chute_core.logs import get_logger
from chute_core.pools import Pool, Pools
from chute_core.resumable_jobs import ResumableJobs
from chute_core.settings import PipelineSettings
from chute_core.tracing import context_from, tracer
from chute_worker import metrics
from chute_worker.chain import ChainFailed, ProcessorChain
from chute_worker.decisions import Action, Decision, after_conflict, plan_failure
from chute_worker.failures import backoff_seconds, classify
from chute_worker.finish_values import finish_values
from chute_worker.heartbeat import ExtendVisibility, heartbeat
from chute_worker.settings import WorkerSettings
from chute_worker.webhook_delivery import WebhookSender

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["Attempt", "Delivery", "JobRunner"]

log = get_logger(__name__)
LEASE_FIELDS = ("lease_owner", "lease_expires_at")


@dataclass(frozen=True)
class Delivery:
    """One received message, as the runner needs to know it."""

    message_id: str
    body: str
    receive_count: int
    extend_visibility: ExtendVisibility


@dataclass(frozen=True)
class Attempt:
    """One claimed job being worked on for one delivery of its event."""

    job: Job
    record: ObjectCreated
    delivery: Delivery
    started: float = field(default_factory=time.monotonic)

    def seconds(self) -> float:  # since the claim, for the log line
        return round(time.monotonic() - self.started, 4)


@dataclass(frozen=True)
class JobRunner:
    store: ResumableJobs
    s3: S3Client
    keys: ObjectKeys
    pipeline: PipelineSettings
    settings: WorkerSettings
    chain: ProcessorChain
    webhooks: WebhookSender | None = None

    @functools.cached_property
    def pools(self) -> Pools:
        return self.pipeline.pool_set()

    @functools.cached_property
    def pool(self) -> Pool:
        """The pool this worker serves: its lease, visibility and receive limits."""
        return self.pools.get(self.settings.pool)

    def retry_later(self, receive_count: int) -> Decision:
        return Decision.retry(
            backoff_seconds(
                receive_count,
                base=self.settings.retry_base_seconds,
                cap=self.settings.retry_max_seconds,
            )
        )

    async def handle(self, delivery: Delivery) -> Decision:
        try:
            parsed = parse_body(delivery.body)
            if isinstance(parsed, S3TestEvent):
                log.info("test_event_ignored", message_id=delivery.message_id)
                return Decision.delete()
            if isinstance(parsed, UploadDeadline):
                # From an API before the reconciler: the job's deadline does this now.
                log.info("legacy_deadline_message_dropped", job_id=parsed.job_id)
                return Decision.delete()
            decisions = [await self._handle_record(record, delivery) for record in parsed]
        except PoisonMessage as exc:
            metrics.POISON_MESSAGES.labels(reason=exc.reason).inc()
            log.warning(
                "poison_message",
                message_id=delivery.message_id,
                reason=exc.reason,
                detail=exc.detail,
            )
            return Decision.dead_letter(exc.reason)
        retries = [d for d in decisions if d.action is Action.RETRY]
        return retries[0] if retries else Decision.delete()

    async def _handle_record(self, record: ObjectCreated, delivery: Delivery) -> Decision:
        if record.bucket != self.pipeline.bucket:
            raise PoisonMessage("unknown_bucket", f"event for bucket {record.bucket}")
        segment, tenant, job_id = self.keys.parse_pooled(record.key)
        self.pools.check_serves(self.pool, segment, record.key)
        try:
            job = await self.store.claim(
                job_id,
                owner=self.settings.worker_id,
                lease_seconds=self.pool.visibility_timeout_seconds,
                etag=record.etag,
            )
        except JobNotFound:
            raise PoisonMessage("no_job", f"no job record for {record.key}") from None
        except TransitionConflict as conflict:
            return self._after_conflict(conflict.current, delivery)
        if job.tenant != tenant:
            raise PoisonMessage("tenant_mismatch", f"job {job_id} is not {tenant}'s")
        # Continue the upload's trace; every log line of this job carries its ids.
        parent = context_from({"traceparent": job.traceparent} if job.traceparent else {})
        with (
            tracer().start_as_current_span(
                "process job",
                context=parent,
                kind=trace.SpanKind.CONSUMER,
                attributes={"chute.job_id": job_id},
            ),
            structlog.contextvars.bound_contextvars(job_id=job_id, tenant=tenant),
        ):
            return await self._claimed(Attempt(job, record, delivery))

    async def _claimed(self, attempt: Attempt) -> Decision:
        job, record = attempt.job, attempt.record
        log.info(
            "job_claimed",
            message_id=attempt.delivery.message_id,
            attempts=job.attempts,
            lease_expires_at=job.lease_expires_at,
        )
        direct = job.direct_upload
        if direct is not None and direct.refuses(record.size):
            # S3 enforces the POST policy's content-length-range; moto does not, and a
            # multipart client may send any parts: the declared size is the contract.
            await self.s3.delete_object(Bucket=record.bucket, Key=record.key)
            error = ProcessorError(
                "size_mismatch",
                f"the object has {record.size} bytes, {direct.declared_size} were declared",
                retryable=False,
            )
            return await self._fail(attempt, error, ProcessingResult())
        return await self._run(attempt)

    def _after_conflict(self, current: Job, delivery: Delivery) -> Decision:
        metrics.LEASE_CONFLICTS.inc()
        log.info(
            "claim_conflict",
            job_id=current.job_id,
            message_id=delivery.message_id,
            state=current.state,
            lease_owner=current.lease_owner,
        )
        return after_conflict(
            current, lease_seconds=self.pool.visibility_timeout_seconds, now=utcnow()
        )

    async def _run(self, attempt: Attempt) -> Decision:
        try:
            async with heartbeat(
                store=self.store,
                job_id=attempt.job.job_id,
                owner=self.settings.worker_id,
                visibility=self.pool.visibility_timeout_seconds,
                extend_visibility=attempt.delivery.extend_visibility,
            ):
                result = await self.chain.run(attempt.job, attempt.record)
        except asyncio.CancelledError:
            # Shutdown ran out of grace: hand the job back so another worker takes it now.
            await asyncio.shield(self._release(attempt.job))
            raise
        except ChainFailed as failed:
            return await self._fail(attempt, failed.error, failed.result)
        except Exception as exc:  # reaching the object or the pool, before any processor
            return await self._fail(attempt, classify(exc), ProcessingResult())
        return await self._succeed(attempt, result)

    def _notifies(self, job: Job) -> bool:  # a webhook needs the terminal record read back
        return self.webhooks is not None and bool(self.webhooks.target(job))

    def _until_delivered(self, job: Job, values: dict[str, object]) -> dict[str, object]:
        """A terminal job with a webhook keeps a deadline until its delivery is recorded."""
        if self.webhooks is not None and self._notifies(job):
            limit = self.webhooks.max_seconds + self.pipeline.overdue_grace_seconds
            values["due_at"] = int(time.time() + limit) + 1
        return values

    def _finished(
        self, attempt: Attempt, result: ProcessingResult, outcome: str, after: Job | None
    ) -> None:
        """Count a terminal job and send its webhook (`after`: its record, when read back)."""
        metrics.JOBS_FINISHED.labels(processor=result.deciding, outcome=outcome).inc()
        metrics.JOB_ATTEMPTS.observe(attempt.job.attempts)
        metrics.JOB_END_TO_END.observe(seconds_since(attempt.job.created_at))
        if self.webhooks is not None and after is not None:
            self.webhooks.schedule(after)

    async def _succeed(self, attempt: Attempt, result: ProcessingResult) -> Decision:
        job, values = (
            attempt.job,
            finish_values(result, etag=attempt.record.etag, error=None, final=True),
        )
        self._until_delivered(job, values)
        try:
            finished = await self.store.transition(
                job.job_id,
                JobState.SUCCEEDED,
                lease_owner=self.settings.worker_id,
                set_values=values,
                remove=LEASE_FIELDS,
                returning=self._notifies(job),
            )
        except TransitionConflict as conflict:
            # Our lease lapsed and someone else took over: their result stands.
            return self._after_conflict(conflict.current, attempt.delivery)
        self._finished(attempt, result, "succeeded", finished)
        log.info(
            "job_succeeded",
            job_id=job.job_id,
            tenant=job.tenant,
            message_id=attempt.delivery.message_id,
            attempts=job.attempts,
            seconds=attempt.seconds(),
        )
        return Decision.delete()

    async def _fail(
        self, attempt: Attempt, error: ProcessorError, result: ProcessingResult
    ) -> Decision:
        job, delivery = attempt.job, attempt.delivery
        plan = plan_failure(
            error,
            receive_count=delivery.receive_count,
            max_receive_count=self.pool.max_receive_count,
            attempts=job.attempts,
        )
        values = finish_values(result, etag=attempt.record.etag, error=error, final=plan.final)
        if plan.final:
            self._until_delivered(job, values)
        try:
            after = await self.store.transition(
                job.job_id,
                JobState.FAILED if plan.final else JobState.QUEUED,
                sources={JobState.PROCESSING},
                lease_owner=self.settings.worker_id,
                set_values=values,
                remove=LEASE_FIELDS,
                returning=plan.final and self._notifies(job),
            )
        except TransitionConflict as conflict:
            return self._after_conflict(conflict.current, delivery)
        if plan.final:
            self._finished(attempt, result, "failed", after)
        else:
            metrics.JOB_RETRIES.labels(processor=result.deciding).inc()
        log.warning(
            "job_failed" if plan.final else "job_will_retry",
            job_id=job.job_id,
            tenant=job.tenant,
            message_id=delivery.message_id,
            code=error.code,
            error=error.message,
            receive_count=delivery.receive_count,
            seconds=attempt.seconds(),
        )
        return self.retry_later(delivery.receive_count) if plan.retry else Decision.delete()

    async def _release(self, job: Job) -> None:
        try:
            await self.store.transition(
                job.job_id,
                JobState.QUEUED,
                sources={JobState.PROCESSING},
                lease_owner=self.settings.worker_id,
                remove=LEASE_FIELDS,
                returning=False,
            )
            log.info("job_released", job_id=job.job_id, tenant=job.tenant)
        except Exception as exc:
            # Not released: the lease simply lapses and the job is claimable then.
            log.warning("job_release_failed", job_id=job.job_id, error=str(exc))
