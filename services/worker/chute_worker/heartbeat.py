"""Keep a running job's message invisible and its lease alive.

Every third of the visibility timeout the message's visibility and the job's lease
are both pushed one full timeout ahead, so a long job is never redelivered, and a
crashed worker's job is claimable again at most one timeout after its last beat.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from chute_core.errors import TransitionConflict
from chute_core.job_store import JobStore
from chute_core.jobs import JobState, iso, utcnow
from chute_core.logs import get_logger
from chute_worker import metrics

__all__ = ["ExtendVisibility", "heartbeat"]

log = get_logger(__name__)
ExtendVisibility = Callable[[int], Awaitable[None]]


@asynccontextmanager
async def heartbeat(
    *,
    store: JobStore,
    job_id: str,
    owner: str,
    visibility: int,
    extend_visibility: ExtendVisibility,
) -> AsyncIterator[None]:
    interval = max(1.0, visibility / 3)

    async def beat() -> None:
        while True:
            until = iso(utcnow() + timedelta(seconds=visibility))
            try:
                await extend_visibility(visibility)
                await store.transition(
                    job_id,
                    JobState.PROCESSING,
                    sources={JobState.PROCESSING},
                    lease_owner=owner,
                    set_values={"lease_expires_at": until},
                    returning=False,
                )
                metrics.VISIBILITY_EXTENSIONS.inc()
            except TransitionConflict as conflict:
                # Someone took the job over: our finish will lose its race and change nothing.
                log.warning("lease_lost", job_id=job_id, holder=conflict.current.lease_owner)
                return
            except Exception as exc:  # transient (network, throttling): beat again later
                log.warning("heartbeat_failed", job_id=job_id, error=str(exc))
            await asyncio.sleep(interval)  # a schedule, not a wait for a condition

    # Most jobs finish long before the first beat: a timer costs far less than a task
    # per job, so the beating task only starts once a beat is due.
    tasks: list[asyncio.Task[None]] = []
    timer = asyncio.get_running_loop().call_later(
        interval, lambda: tasks.append(asyncio.create_task(beat()))
    )
    try:
        yield
    finally:
        timer.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
