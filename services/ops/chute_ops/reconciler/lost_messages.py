"""When a queued job's message is presumed lost: the rule that keeps the reconciler from
flooding a legitimate backlog with duplicates (docs/reliability.md, "Lost messages").

Inputs: the overdue jobs that wait for a message (QUEUED, or PROCESSING under a lapsed
lease), as the due index describes them, and the queue's counts read before the index.
A job's message is presumed lost when

1. the queue holds no visible message: whatever it holds is in flight, and a worker
   that receives a QUEUED job's message claims it within moments, so an overdue QUEUED
   job has no message waiting;
2. or the job has waited longer than the queue's retention: its message has expired;
3. or more jobs wait than the queue holds messages (visible + in flight): at least the
   excess have none; the oldest of them are taken (a standard queue hands out roughly
   oldest first, so the messages still held are most likely the newer jobs').

Otherwise the job is left alone this pass: the backlog is still draining.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from chute_core.jobs import seconds_since
from chute_ops.reconciler.evidence import QueueSnapshot

__all__ = ["Waiting", "presumed_lost"]


class Waiting(Protocol):
    @property
    def job_id(self) -> str: ...

    @property
    def updated_at(self) -> str: ...


def presumed_lost(waiting: Sequence[Waiting], queue: QueueSnapshot) -> set[str]:
    """The ids of the jobs in `waiting` whose message is presumed lost."""
    if queue.visible == 0:
        return {job.job_id for job in waiting}
    lost = {
        job.job_id for job in waiting if seconds_since(job.updated_at) > queue.retention_seconds
    }
    rest = sorted((j for j in waiting if j.job_id not in lost), key=lambda j: j.updated_at)
    excess = len(rest) - queue.held
    lost.update(job.job_id for job in rest[: max(0, excess)])
    return lost
