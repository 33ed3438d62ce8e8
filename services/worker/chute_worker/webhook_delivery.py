"""Deliver a terminal job's record to its callback_url: signed, retried with backoff for
up to CHUTE_WEBHOOK_MAX_SECONDS, the outcome recorded on the job.

The target is re-checked at every attempt after DNS resolution (no private, loopback
or link-local addresses unless allowed) and redirects are not followed. Deliveries run
beside the queue work; on shutdown they get the grace period. A terminal job waiting
for its delivery keeps a deadline (the delivery's time limit plus the overdue grace),
which the outcome's record removes:
a delivery cut short by a crash is found overdue and sent again by the reconciler, with
the same `Chute-Delivery` id (derived from the job and its terminal record), so that
receivers dedupe it."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

from chute_core.due import DUE_FIELDS
from chute_core.errors import UnsafeCallback
from chute_core.job_store import JobStore
from chute_core.jobs import Job, iso, utcnow
from chute_core.logs import get_logger
from chute_core.settings import WebhookSettings
from chute_core.webhooks import (
    SIGNATURE_HEADER,
    check_callback_url,
    resolve_safely,
    sign,
)
from chute_worker import metrics

__all__ = ["WebhookSender", "delivery_id"]

log = get_logger(__name__)
FIRST_DELAY_SECONDS = 1.0
_DELIVERIES = uuid.UUID("5d1a8f8e-8d36-4d7e-9a5e-0c6b7d0b9c11")


def delivery_id(job: Job) -> str:
    """The same id for every attempt to deliver one terminal record of the job."""
    return str(uuid.uuid5(_DELIVERIES, f"{job.job_id}/{job.state}/{job.finished_at}"))


MAX_DELAY_SECONDS = 60.0


class WebhookSender:
    def __init__(self, settings: WebhookSettings, store: JobStore, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._store = store
        self._http = http
        self._tasks: set[asyncio.Task[None]] = set()

    def target(self, job: Job) -> str | None:
        """Where the job's terminal record will be delivered (so it must be read back),
        or None."""
        return job.callback_url if self._settings.webhook_secret is not None else None

    @property
    def max_seconds(self) -> float:
        """How long one delivery may take, its retries included."""
        return self._settings.webhook_max_seconds

    def schedule(self, job: Job) -> None:
        url = self.target(job)
        if not url:
            return
        task = asyncio.create_task(self._deliver(job, url))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, grace_seconds: float) -> None:
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _deliver(self, job: Job, url: str) -> None:
        assert self._settings.webhook_secret is not None
        secret = self._settings.webhook_secret.get_secret_value().encode()
        body = job.model_dump_json(exclude_none=True).encode()
        delivery = delivery_id(job)
        deadline = time.monotonic() + self._settings.webhook_max_seconds
        delay = FIRST_DELAY_SECONDS
        attempts = 0
        record: dict[str, Any] = {"url": url, "delivery_id": delivery}
        try:
            while True:
                attempts += 1
                retryable, error, status = await self._attempt(url, body, secret, delivery, job)
                if error is None:
                    record.update(outcome="delivered", delivered_at=iso(utcnow()))
                    break
                record.update(last_error=error, **({"last_status": status} if status else {}))
                if not retryable or time.monotonic() + delay > deadline:
                    record["outcome"] = "failed"
                    break
                await asyncio.sleep(delay)  # backoff before the next attempt
                delay = min(delay * 2, MAX_DELAY_SECONDS)
        except asyncio.CancelledError:
            record["outcome"] = "abandoned"  # shutdown ran out of grace
            await asyncio.shield(self._record(job, record, attempts))
            raise
        await self._record(job, record, attempts)

    async def _attempt(
        self, url: str, body: bytes, secret: bytes, delivery: str, job: Job
    ) -> tuple[bool, str | None, int | None]:
        """(retryable, error or None on success, HTTP status)."""
        try:
            host, port = check_callback_url(url, allow_http=self._settings.webhook_allow_http)
            await resolve_safely(host, port, allow_private=self._settings.webhook_allow_private)
            response = await self._http.post(
                url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: sign(secret, body),
                    "Chute-Delivery": delivery,
                    "Chute-Job-Id": job.job_id,
                },
                timeout=self._settings.webhook_timeout_seconds,
                follow_redirects=False,
            )
        except UnsafeCallback as exc:
            return False, str(exc), None
        except httpx.HTTPError as exc:
            return True, f"{type(exc).__name__}: {exc}", None
        if 200 <= response.status_code < 300:
            return False, None, response.status_code
        retryable = response.status_code >= 500 or response.status_code in (408, 429)
        return retryable, f"HTTP {response.status_code}", response.status_code

    async def _record(self, job: Job, record: dict[str, Any], attempts: int) -> None:
        record["attempts"] = attempts
        metrics.WEBHOOK_DELIVERIES.labels(outcome=record["outcome"]).inc()
        log.info("webhook_" + record["outcome"], job_id=job.job_id, attempts=attempts)
        try:
            await self._store.annotate(job.job_id, {"webhook": record}, remove=DUE_FIELDS)
        except Exception as exc:  # the delivery happened; only its record is missing
            log.warning("webhook_record_failed", job_id=job.job_id, error=str(exc))
