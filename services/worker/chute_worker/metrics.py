"""The worker's metrics (DESIGN.md §6): bounded labels only, base units.

Latency buckets: on moto a no-op job takes ~10-40 ms and upload-to-done ~0.1-0.5 s;
on AWS expect 50-500 ms and 1-5 s. Buckets span both, up to the 15-minute mark
where a job would be an outlier regardless of processor."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "BACKEND_UP",
    "DLQ_SENDS",
    "FREE_SLOTS",
    "JOBS_FINISHED",
    "JOBS_IN_FLIGHT",
    "JOB_ATTEMPTS",
    "JOB_END_TO_END",
    "JOB_PROCESSING",
    "JOB_RETRIES",
    "LEASE_CONFLICTS",
    "LOOP_LAG",
    "MESSAGES_RECEIVED",
    "POISON_MESSAGES",
    "PROCESSOR_RUNS",
    "QUEUE_OLDEST_AGE",
    "VISIBILITY_EXTENSIONS",
    "WEBHOOK_DELIVERIES",
]

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)

MESSAGES_RECEIVED = Counter("chute_worker_messages_received", "Messages received from SQS.")
JOBS_FINISHED = Counter(
    "chute_jobs_finished",
    "Jobs that reached a terminal state, by processor and outcome (succeeded, failed).",
    ["processor", "outcome"],
)
JOB_RETRIES = Counter(
    "chute_job_retries", "Job attempts that failed transiently and will retry.", ["processor"]
)
JOB_PROCESSING = Histogram(
    "chute_job_processing_seconds",
    "Time the processor took per attempt.",
    ["processor"],
    buckets=_SECONDS,
)
JOB_END_TO_END = Histogram(
    "chute_job_end_to_end_seconds",
    "From the job's creation (upload) to its terminal state.",
    buckets=_SECONDS,
)
JOB_ATTEMPTS = Histogram(
    "chute_job_attempts",
    "Claims a job needed before it became terminal.",
    buckets=(1, 2, 3, 5, 10),
)
VISIBILITY_EXTENSIONS = Counter(
    "chute_visibility_extensions", "Heartbeats that extended a message's visibility and lease."
)
LEASE_CONFLICTS = Counter(
    "chute_lease_conflicts", "Claims or finishes that lost their conditional write."
)
POISON_MESSAGES = Counter(
    "chute_poison_messages", "Messages that can never be processed, by reason.", ["reason"]
)
DLQ_SENDS = Counter("chute_dlq_sends", "Messages the worker sent to the DLQ itself.", ["reason"])
JOBS_IN_FLIGHT = Gauge("chute_worker_jobs_in_flight", "Messages being handled right now.")
FREE_SLOTS = Gauge("chute_worker_free_slots", "Concurrency slots free for more messages.")
BACKEND_UP = Gauge("chute_worker_backend_up", "1 while AWS is reachable, 0 during an outage.")
QUEUE_OLDEST_AGE = Gauge(
    "chute_queue_oldest_message_age_seconds",
    "Age of the oldest message in the last receive batch (0 when none was received).",
    ["pool", "queue"],
)
PROCESSOR_RUNS = Counter(
    "chute_processor_runs",
    "Processor runs within jobs, by processor and outcome (succeeded, failed).",
    ["processor", "outcome"],
)
LOOP_LAG = Histogram(
    "chute_worker_event_loop_lag_seconds",
    "How late the event loop woke a timer: high values starve heartbeats and health checks.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
WEBHOOK_DELIVERIES = Counter(
    "chute_webhook_deliveries",
    "Webhook deliveries by outcome (delivered, failed, abandoned).",
    ["outcome"],
)
