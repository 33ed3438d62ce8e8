"""What the loop does with a message once its handling is over, and the rules that
decide it: pure functions of the job, the error and the delivery, so they are tested
in-process (tests/worker/test_decisions.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from chute_core.errors import ProcessorError
from chute_core.jobs import TERMINAL, Job, parse_iso

__all__ = ["Action", "Decision", "FailurePlan", "after_conflict", "plan_failure"]


class Action(Enum):
    DELETE = "delete"  # done (or nothing to do): remove from the queue
    RETRY = "retry"  # leave it; it comes back after `visibility` seconds
    DEAD_LETTER = "dead_letter"  # poison: send to the DLQ with the reason, then delete


@dataclass(frozen=True)
class Decision:
    action: Action
    visibility: int | None = None
    reason: str | None = None

    @classmethod
    def delete(cls) -> Decision:
        return cls(Action.DELETE)

    @classmethod
    def retry(cls, visibility: int | None = None) -> Decision:
        return cls(Action.RETRY, visibility=visibility)

    @classmethod
    def dead_letter(cls, reason: str) -> Decision:
        return cls(Action.DEAD_LETTER, reason=reason)


@dataclass(frozen=True)
class FailurePlan:
    """After a failed attempt: whether the job ends FAILED now (`final`), and whether
    its message comes back (`retry`) or is deleted."""

    final: bool
    retry: bool


def plan_failure(
    error: ProcessorError, *, receive_count: int, max_receive_count: int, attempts: int
) -> FailurePlan:
    """A permanent error, the last receive or the error's own attempt cap ends the job.
    A retryable error keeps its message coming back even on the last try (the job is
    FAILED then), so that SQS moves it to the DLQ after maxReceiveCount receives."""
    out_of_attempts = error.max_attempts is not None and attempts >= error.max_attempts
    final = not error.retryable or receive_count >= max_receive_count or out_of_attempts
    return FailurePlan(final=final, retry=error.retryable and not out_of_attempts)


def after_conflict(current: Job, *, lease_seconds: int, now: datetime) -> Decision:
    """Another claim or finish won the race. A terminal job is a duplicate of work done:
    delete. Otherwise someone holds it: look again when their lease would lapse without
    a heartbeat; by then it is finished (delete) or claimable (take over)."""
    if current.state in TERMINAL:
        return Decision.delete()
    if not current.lease_expires_at:
        return Decision.retry(lease_seconds)
    left = (parse_iso(current.lease_expires_at) - now).total_seconds()
    return Decision.retry(max(1, min(lease_seconds, math.ceil(left) + 1)))
