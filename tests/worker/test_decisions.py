"""The rules that decide a message's fate after a failure or a lost race, in-process."""

from __future__ import annotations

from datetime import timedelta

from chute_core.errors import ProcessorError
from chute_core.jobs import Job, JobState, iso, utcnow
from chute_worker.decisions import Action, after_conflict, plan_failure
from tests.support.sample_jobs import sample_job

TRANSIENT = ProcessorError("aws_unavailable", "throttled", retryable=True)
PERMANENT = ProcessorError("object_missing", "gone", retryable=False)
CRASH = ProcessorError("processor_crashed", "died", retryable=True, max_attempts=2)


def _job(state: JobState, lease_seconds: float | None = None) -> Job:
    job = sample_job(state)
    if lease_seconds is not None:
        job.lease_expires_at = iso(utcnow() + timedelta(seconds=lease_seconds))
    return job


def test_a_transient_error_before_the_last_receive_requeues_and_retries() -> None:
    plan = plan_failure(TRANSIENT, receive_count=1, max_receive_count=5, attempts=1)
    assert (plan.final, plan.retry) == (False, True)


def test_a_transient_error_on_the_last_receive_fails_the_job_and_lets_sqs_dead_letter() -> None:
    plan = plan_failure(TRANSIENT, receive_count=5, max_receive_count=5, attempts=5)
    assert (plan.final, plan.retry) == (True, True)


def test_a_permanent_error_fails_the_job_at_once_and_deletes_the_message() -> None:
    plan = plan_failure(PERMANENT, receive_count=1, max_receive_count=5, attempts=1)
    assert (plan.final, plan.retry) == (True, False)


def test_a_crash_gets_one_more_try_then_fails_without_coming_back() -> None:
    first = plan_failure(CRASH, receive_count=1, max_receive_count=5, attempts=1)
    second = plan_failure(CRASH, receive_count=2, max_receive_count=5, attempts=2)
    assert (first.final, first.retry) == (False, True)
    assert (second.final, second.retry) == (True, False)


def test_a_conflict_with_a_terminal_job_deletes_the_duplicate() -> None:
    for state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED):
        assert after_conflict(_job(state), lease_seconds=60, now=utcnow()).action is Action.DELETE


def test_a_conflict_with_a_held_job_looks_again_when_its_lease_would_lapse() -> None:
    decision = after_conflict(_job(JobState.PROCESSING, 20), lease_seconds=60, now=utcnow())
    assert decision.action is Action.RETRY
    assert decision.visibility is not None
    assert 20 <= decision.visibility <= 22


def test_a_conflict_never_waits_longer_than_one_lease_or_less_than_a_second() -> None:
    now = utcnow()
    far = after_conflict(_job(JobState.PROCESSING, 3600), lease_seconds=60, now=now)
    lapsed = after_conflict(_job(JobState.PROCESSING, -30), lease_seconds=60, now=now)
    unleased = after_conflict(_job(JobState.PROCESSING), lease_seconds=60, now=now)
    assert (far.visibility, lapsed.visibility, unleased.visibility) == (60, 1, 60)
