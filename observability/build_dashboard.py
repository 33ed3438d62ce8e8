"""Build chute's Grafana dashboard with the Grafana Foundation SDK (typed builders for
the current dashboard schema) and print it as JSON.

    python observability/build_dashboard.py > helm/chute/files/chute-dashboard.json

Panels are data (PANELS below); every query is scoped by the $namespace variable, every
query of a queue or worker series also by the $pool variable (worker pools; "All"
matches a release without pools too), and rates use $__rate_interval. Queries on
kube-state-metrics and KEDA series need those installed; chute's own gauges work
without either.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.builders.common import GraphThresholdsStyleConfig, StackingConfig
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

UID = "chute-overview"
DS = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
NS = 'namespace="$namespace"'
RATE = "$__rate_interval"
GREEN, YELLOW, RED = "green", "yellow", "red"
BACKLOG_ALERT = 100  # ChuteBacklogGrowingAtMaxReplicas threshold
OLDEST_ALERT = 600  # ChuteOldestMessageTooOld threshold (s)
# The series a pool's queue or workers export (the API's own carry no pool).
POOLED = re.compile(
    r"\b(chute_(?:queue|worker|jobs|job|processor|webhook|visibility|lease|poison|dlq)_\w*)\{"
    + re.escape(NS)
)


@dataclass
class P:
    title: str
    description: str
    unit: str
    targets: list[tuple[str, str]]  # (expr, legend)
    kind: str = "timeseries"
    thresholds: list[tuple[float | None, str]] = field(default_factory=lambda: [(None, GREEN)])
    stacked: bool = False
    width: int = 8


def rate_sum(metric: str, *, by: str = "", match: str = "") -> str:
    grouping = f" by ({by}) " if by else ""
    return f"sum{grouping}(rate({metric}{{{NS}{match}}}[{RATE}]))"


def quantiles(metric: str, by: str = "") -> list[tuple[str, str]]:
    group = f"le{', ' + by if by else ''}"
    legend = f"{{{{{by}}}}} " if by else ""
    return [
        (
            f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket{{{NS}}}[{RATE}])))",
            f"{legend}p{int(q * 100)}",
        )
        for q in (0.5, 0.95, 0.99)
    ]


FAILED_JOBS = rate_sum("chute_jobs_finished_total", match=', outcome="failed"')
SERVER_ERRORS = rate_sum("chute_http_requests_total", match=', status_class="5xx"')

ROWS: list[tuple[str, list[P]]] = [
    (
        "Queue",
        [
            P(
                "Backlog (main queue)",
                "Messages waiting (visible), being processed (in flight) and delayed, as the "
                "workers read them with GetQueueAttributes. The line marks the backlog alert.",
                "short",
                [
                    (f'max by (state) (chute_queue_messages{{{NS}, queue="main"}})', "{{state}}"),
                ],
                thresholds=[(None, GREEN), (BACKLOG_ALERT, RED)],
                stacked=True,
            ),
            P(
                "Dead-letter queue",
                "Messages in the DLQ: each is a job that could not be processed. "
                "Any is worth a look: chute dlq list.",
                "short",
                [(f'max(chute_queue_messages{{{NS}, queue="dlq", state="visible"}})', "dlq")],
                kind="stat",
                thresholds=[(None, GREEN), (1, RED)],
                width=4,
            ),
            P(
                "Estimated drain time",
                "Visible messages divided by the rate jobs finish: how long the backlog "
                "lasts if nothing new arrives.",
                "s",
                [
                    (
                        f'max(chute_queue_messages{{{NS}, queue="main", state="visible"}}) '
                        f"/ clamp_min(sum(rate(chute_jobs_finished_total{{{NS}}}[{RATE}])), 0.001)",
                        "drain time",
                    )
                ],
                kind="stat",
                thresholds=[(None, GREEN), (300, YELLOW), (OLDEST_ALERT, RED)],
                width=4,
            ),
            P(
                "Oldest message age",
                "Age of the oldest message in the workers' latest receive batches. "
                "The objective is 10 minutes (ChuteOldestMessageTooOld).",
                "s",
                [(f'max(chute_queue_oldest_message_age_seconds{{{NS}, queue="main"}})', "oldest")],
                thresholds=[(None, GREEN), (OLDEST_ALERT, RED)],
            ),
            P(
                "Throughput: uploads in, jobs out",
                "Uploads accepted, messages received and jobs finished per second. Finished "
                "below accepted means falling behind; received far above finished means "
                "retries or poison; accepted with nothing received means the S3 -> SNS -> "
                "SQS chain is broken.",
                "ops",
                [
                    (
                        f'sum(rate(chute_http_requests_total{{{NS}, route="/v1/uploads", '
                        f'status_class="2xx"}}[{RATE}]))',
                        "uploads accepted",
                    ),
                    (
                        f"sum(rate(chute_worker_messages_received_total{{{NS}}}[{RATE}]))",
                        "messages received",
                    ),
                    (f"sum(rate(chute_jobs_finished_total{{{NS}}}[{RATE}]))", "jobs finished"),
                ],
                width=16,
            ),
        ],
    ),
    (
        "Scaling (KEDA and kube-state-metrics)",
        [
            P(
                "Worker replicas",
                "Replicas of the worker Deployment (kube-state-metrics) against the KEDA "
                "HPA's desired and maximum replicas.",
                "short",
                [
                    (
                        f'kube_deployment_status_replicas{{{NS}, deployment="$worker_deployment"}}',
                        "replicas",
                    ),
                    (
                        f"kube_horizontalpodautoscaler_status_desired_replicas{{{NS}, "
                        f'horizontalpodautoscaler="keda-hpa-$scaledobject"}}',
                        "desired",
                    ),
                    (
                        f"kube_horizontalpodautoscaler_spec_max_replicas{{{NS}, "
                        f'horizontalpodautoscaler="keda-hpa-$scaledobject"}}',
                        "max",
                    ),
                ],
            ),
            P(
                "Queue depth: KEDA's view and chute's",
                "What KEDA's SQS scaler sees (keda_scaler_metrics_value) beside chute's own "
                "visible + in-flight gauge. They should agree; a gap means the scaler reads "
                "another queue or fails.",
                "short",
                [
                    (
                        'keda_scaler_metrics_value{exported_namespace="$namespace", '
                        'scaledObject="$scaledobject"}',
                        "KEDA",
                    ),
                    (
                        f'sum(max by (state) (chute_queue_messages{{{NS}, queue="main", '
                        f'state=~"visible|in_flight"}}))',
                        "chute",
                    ),
                ],
            ),
            P(
                "KEDA scaler state",
                "Whether the scaler is active (1) and how often it fails per second "
                "(keda_scaler_detail_errors_total: IAM or queue URL problems).",
                "short",
                [
                    (
                        'max(keda_scaler_active{exported_namespace="$namespace", '
                        'scaledObject="$scaledobject"})',
                        "active",
                    ),
                    (
                        'sum(rate(keda_scaler_detail_errors_total{exported_namespace="$namespace", '
                        f'scaledObject="$scaledobject"}}[{RATE}]))',
                        "errors/s",
                    ),
                ],
            ),
        ],
    ),
    (
        "Worker",
        [
            P(
                "Jobs finished by outcome",
                "Jobs reaching SUCCEEDED or FAILED per second, and attempts that will retry.",
                "ops",
                [
                    (
                        f"sum by (outcome) (rate(chute_jobs_finished_total{{{NS}}}[{RATE}]))",
                        "{{outcome}}",
                    ),
                    (f"sum(rate(chute_job_retries_total{{{NS}}}[{RATE}])) or vector(0)", "retries"),
                ],
                stacked=True,
            ),
            P(
                "Job failure ratio",
                "Share of terminal jobs that FAILED. Alert at 10% (ChuteJobFailureRatioHigh).",
                "percentunit",
                [
                    (
                        f"({FAILED_JOBS} or vector(0)) "
                        f"/ clamp_min(sum(rate(chute_jobs_finished_total{{{NS}}}[{RATE}])), 1e-9)",
                        "failed",
                    )
                ],
                thresholds=[(None, GREEN), (0.05, YELLOW), (0.1, RED)],
            ),
            P(
                "Processing latency",
                "Processor time per attempt, p50/p95/p99, by processor.",
                "s",
                quantiles("chute_job_processing_seconds", "processor"),
            ),
            P(
                "Upload to done latency",
                "From the job's creation by the API to its terminal state, p50/p95/p99.",
                "s",
                quantiles("chute_job_end_to_end_seconds"),
                thresholds=[(None, GREEN), (OLDEST_ALERT, RED)],
            ),
            P(
                "Worker capacity",
                "Messages being handled and free concurrency slots, summed over workers.",
                "short",
                [
                    (f"sum(chute_worker_jobs_in_flight{{{NS}}})", "in flight"),
                    (f"sum(chute_worker_free_slots{{{NS}}})", "free slots"),
                ],
            ),
            P(
                "Reliability events",
                "Per second: visibility extensions (heartbeats), lease conflicts (duplicates "
                "and races), poison messages and the worker's own DLQ sends.",
                "ops",
                [
                    (f"sum(rate(chute_visibility_extensions_total{{{NS}}}[{RATE}]))", "extensions"),
                    (f"sum(rate(chute_lease_conflicts_total{{{NS}}}[{RATE}]))", "lease conflicts"),
                    (
                        rate_sum("chute_poison_messages_total", by="reason") + " or vector(0)",
                        "poison {{reason}}",
                    ),
                    (f"sum(rate(chute_dlq_sends_total{{{NS}}}[{RATE}])) or vector(0)", "DLQ sends"),
                ],
            ),
            P(
                "Workers reaching AWS",
                "Workers that reach AWS (1 each) against all workers; and failed AWS calls per "
                "second by service.",
                "short",
                [
                    (f"sum(chute_worker_backend_up{{{NS}}})", "reachable"),
                    (f"count(chute_worker_backend_up{{{NS}}})", "workers"),
                    (
                        rate_sum("chute_dependency_errors_total", by="service") + " or vector(0)",
                        "errors {{service}}",
                    ),
                ],
            ),
            P(
                "Queue exporter health",
                "Seconds since a worker last read the queue attributes, and failed reads per "
                "second: a stale exporter must not pass for an empty queue.",
                "s",
                [
                    (
                        "time() - max(chute_queue_exporter_last_success_timestamp_seconds"
                        f"{{{NS}}})",
                        "staleness",
                    ),
                    (f"sum(rate(chute_queue_exporter_errors_total{{{NS}}}[{RATE}]))", "errors/s"),
                ],
                thresholds=[(None, GREEN), (120, RED)],
            ),
            P(
                "AWS requests",
                "HTTP requests chute sends to AWS per second, by service and operation "
                "(retries included): the cost driver.",
                "reqps",
                [
                    (
                        "sum by (service, operation) "
                        f"(rate(chute_aws_requests_total{{{NS}}}[{RATE}]))",
                        "{{service}} {{operation}}",
                    )
                ],
            ),
        ],
    ),
    (
        "API",
        [
            P(
                "API requests by status",
                "Requests per second by status class.",
                "reqps",
                [
                    (
                        f"sum by (status_class) (rate(chute_http_requests_total{{{NS}}}[{RATE}]))",
                        "{{status_class}}",
                    )
                ],
                stacked=True,
            ),
            P(
                "API 5xx ratio",
                "Share of requests answered 5xx. The availability objective is 99.9%.",
                "percentunit",
                [
                    (
                        f"({SERVER_ERRORS} or vector(0)) "
                        f"/ clamp_min(sum(rate(chute_http_requests_total{{{NS}}}[{RATE}])), 1e-9)",
                        "5xx",
                    )
                ],
                thresholds=[(None, GREEN), (0.001, YELLOW), (0.0144, RED)],
            ),
            P(
                "API latency",
                "Request duration p50/p95/p99 by route template.",
                "s",
                quantiles("chute_http_request_duration_seconds", "route"),
                thresholds=[(None, GREEN), (1, RED)],
            ),
            P(
                "Upload bytes",
                "Bytes of accepted uploads per second.",
                "Bps",
                [(f"sum(rate(chute_upload_bytes_total{{{NS}}}[{RATE}]))", "bytes/s")],
            ),
            P(
                "Uploads in progress and rejected",
                "Uploads being received now, and rejections per second by reason (too "
                "large, empty, malformed, interrupted).",
                "short",
                [
                    (f"sum(chute_uploads_in_progress{{{NS}}})", "in progress"),
                    (
                        rate_sum("chute_uploads_rejected_total", by="reason") + " or vector(0)",
                        "rejected {{reason}}",
                    ),
                ],
            ),
        ],
    ),
    (
        "API upload memory",
        [
            P(
                "Upload memory budget and RSS",
                "Per API pod: upload buffer bytes reserved against the budget "
                "(CHUTE_API_UPLOAD_MEMORY_BYTES), beside the process's resident memory. "
                "A full budget refuses new uploads with 503 server-busy instead of an OOM kill.",
                "bytes",
                [
                    (
                        f"max by (pod) (chute_api_upload_memory_in_use_bytes{{{NS}}})",
                        "in use {{pod}}",
                    ),
                    (
                        f"max by (pod) (chute_api_upload_memory_budget_bytes{{{NS}}})",
                        "budget {{pod}}",
                    ),
                    (
                        f"max by (pod) (process_resident_memory_bytes{{{NS}}} "
                        f"* on (namespace, pod) "
                        f'group_left chute_build_info{{{NS}, service="api"}})',
                        "RSS {{pod}}",
                    ),
                ],
            ),
            P(
                "Uploads waiting and refused for room",
                "Uploads waiting for room in the budget now, and refusals (503 server-busy, "
                "with Retry-After) per second: sustained refusals raise "
                "ChuteApiUploadsRefusedBusy.",
                "short",
                [
                    (f"sum(chute_api_uploads_waiting{{{NS}}})", "waiting"),
                    (
                        rate_sum("chute_uploads_rejected_total", match=', reason="server-busy"')
                        + " or vector(0)",
                        "refused",
                    ),
                ],
            ),
        ],
    ),
    (
        "Reconciler",
        [
            P(
                "Repairs in the latest pass",
                "What the latest reconciler pass did, by the state it found and the action "
                "it took: queued, republished, delivered (and failed QUEUED/PROCESSING) mean "
                "a hop lost something and raise ChuteReconcilerRepairing; postponed and "
                "waiting are long jobs and a draining backlog.",
                "short",
                [
                    (
                        f"sum by (state, action) (chute_reconciler_last_pass_repairs{{{NS}}})",
                        "{{state}} {{action}}",
                    )
                ],
                stacked=True,
            ),
            P(
                "Overdue jobs",
                "Jobs past their deadline at the latest pass (the due index): stranded until "
                "the reconciler repairs them, or still moving (a long job, a draining backlog).",
                "short",
                [(f"max(chute_reconciler_overdue_jobs{{{NS}}})", "overdue")],
                kind="stat",
            ),
            P(
                "Since the last reconciler pass",
                "Seconds since a pass last finished without an error; over 900 s raises "
                "ChuteReconcilerNotRunning.",
                "s",
                [
                    (
                        f"time() - max(chute_reconciler_last_success_timestamp_seconds{{{NS}}})",
                        "since last pass",
                    )
                ],
                kind="stat",
                thresholds=[(None, GREEN), (300, YELLOW), (900, RED)],
            ),
        ],
    ),
]


def _panel(p: P) -> timeseries.Panel | stat.Panel:
    thresholds = (
        db.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=v, color=c) for v, c in p.thresholds])
    )
    builder: timeseries.Panel | stat.Panel
    if p.kind == "stat":
        builder = stat.Panel().graph_mode(common.BigValueGraphMode.AREA)
    else:
        builder = timeseries.Panel().fill_opacity(10)
        if p.stacked:
            builder = builder.stacking(StackingConfig().mode(common.StackingMode.NORMAL))
        if len(p.thresholds) > 1:
            builder = builder.thresholds_style(
                GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE)
            )
    builder = (
        builder.title(p.title)
        .description(p.description)
        .unit(p.unit)
        .datasource(DS)
        .thresholds(thresholds)
        .height(8)
        .span(p.width)
    )
    for i, (expr, legend) in enumerate(p.targets):
        expr = POOLED.sub(lambda m: f'{m.group(1)}{{{NS}, pool=~"$pool"', expr)
        builder = builder.with_target(
            prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(chr(ord("A") + i))
        )
    return builder


def _variable(name: str, label: str, query: str, description: str) -> db.QueryVariable:
    return (
        db.QueryVariable(name)
        .label(label)
        .description(description)
        .query(query)
        .datasource(DS)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )


def build() -> db.Dashboard:
    dash = (
        db.Dashboard("chute: queue and workers")
        .uid(UID)
        .description("chute's pipeline: queue depth, scaling, workers and API.")
        .tags(["chute", "sqs", "keda"])
        .refresh("30s")
        .time("now-1h", "now")
        .timezone("browser")
        .with_variable(
            db.DatasourceVariable("datasource")
            .label("Data source")
            .description("The Prometheus that scrapes chute.")
            .type("prometheus")
        )
        .with_variable(
            _variable(
                "namespace",
                "Namespace",
                "label_values(chute_build_info, namespace)",
                "The namespace chute runs in.",
            )
        )
        .with_variable(
            _variable(
                "pool",
                "Pool",
                'label_values(chute_queue_messages{namespace="$namespace"}, pool)',
                "Worker pools (CHUTE_POOLS); All includes a release without pools.",
            )
            .multi(True)
            .include_all(True)
            .all_value(".*")
        )
        .with_variable(
            _variable(
                "worker_deployment",
                "Worker Deployment",
                'label_values(kube_deployment_status_replicas{namespace="$namespace", '
                'deployment=~".*worker.*"}, deployment)',
                "The worker Deployment (kube-state-metrics).",
            )
        )
        .with_variable(
            _variable(
                "scaledobject",
                "ScaledObject",
                'label_values(keda_scaler_metrics_value{exported_namespace="$namespace"}, '
                "scaledObject)",
                "KEDA's ScaledObject for the workers.",
            )
        )
    )
    for title, panels in ROWS:
        dash = dash.with_row(db.Row(title))
        for p in panels:
            dash = dash.with_panel(_panel(p))
    return dash


if __name__ == "__main__":
    sys.stdout.write(JSONEncoder(sort_keys=True, indent=2).encode(build().build()) + "\n")
