"""The reconciler's metrics: every repair means a hop lost something (alert on it), and
a reconciler that stops running lets stranded jobs pile up (alert on that too)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["LAST_PASS_REPAIRS", "LAST_SUCCESS", "OVERDUE", "PASS_SECONDS", "REPAIRS"]

REPAIRS = Counter(
    "chute_reconciler_repairs",
    "Overdue jobs the reconciler acted on, by the state found and the action taken.",
    ["state", "action"],
)
# The same count for the latest pass only: a CronJob pushes each pass's metrics from a
# new process, whose counters start at zero again, so alerts read this gauge instead.
LAST_PASS_REPAIRS = Gauge(
    "chute_reconciler_last_pass_repairs",
    "Overdue jobs the latest pass acted on, by the state found and the action taken.",
    ["state", "action"],
)
OVERDUE = Gauge("chute_reconciler_overdue_jobs", "Overdue jobs found by the last pass.")
LAST_SUCCESS = Gauge(
    "chute_reconciler_last_success_timestamp_seconds",
    "When the last pass that finished without an error ended (Unix time).",
)
PASS_SECONDS = Histogram(
    "chute_reconciler_pass_seconds",
    "How long one reconciler pass took.",
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900),
)
