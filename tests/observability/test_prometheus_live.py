"""The dashboard and the alerts against a real Prometheus scraping the real local
stack. Queries on kube-state-metrics and KEDA are evaluated against recorded series
backfilled with `promtool tsdb create-blocks-from openmetrics` (no cluster here)."""

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import ServerFactory, StackFactory
from tests.support.polling import wait_until
from tests.support.processes import REPO
from tests.support.prometheus import Target, openmetrics, prometheus
from tests.support.uploads import upload, upload_many

NAMESPACE = "chute-test"
SCOPE = f'namespace="{NAMESPACE}"'
WAVES, PER_WAVE = 4, 5
DASHBOARD = REPO / "helm/chute/files/chute-dashboard.json"
RULES = REPO / "helm/chute/files/chute-rules.yaml"
VARIABLES = {
    "${datasource}": "prometheus",
    "$namespace": NAMESPACE,
    "$worker_deployment": "chute-worker",
    "$scaledobject": "chute-worker",
    "$pool": ".*",  # "All": also a release without pools, whose worker series carry none
    "$__rate_interval": "1m",
}
# What kube-state-metrics and KEDA would export for this release in a cluster.
KSM = {"namespace": NAMESPACE}
DEPLOYMENT = {**KSM, "deployment": "chute-worker"}
HPA = {**KSM, "horizontalpodautoscaler": "keda-hpa-chute-worker"}
KEDA = {"namespace": "keda", "exported_namespace": NAMESPACE, "scaledObject": "chute-worker"}
SCALER = {**KEDA, "scaler": "s0-aws-sqs-queue", "metric": "s0-aws-sqs-queue"}
RECORDED = [
    ("kube_deployment_status_replicas", "gauge", DEPLOYMENT, 2),
    ("kube_deployment_status_replicas_available", "gauge", DEPLOYMENT, 2),
    ("kube_horizontalpodautoscaler_status_current_replicas", "gauge", HPA, 2),
    ("kube_horizontalpodautoscaler_status_desired_replicas", "gauge", HPA, 3),
    ("kube_horizontalpodautoscaler_spec_max_replicas", "gauge", HPA, 10),
    (
        "kube_pod_container_status_restarts",
        "counter",
        {**KSM, "pod": "w-0", "container": "worker"},
        0,
    ),
    ("keda_scaler_metrics_value", "gauge", SCALER, 12),
    ("keda_scaler_active", "gauge", SCALER, 1),
    ("keda_scaler_detail_errors", "counter", {**KEDA, "scaler": "s0-aws-sqs-queue"}, 0),
]


def substitute(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


def dashboard_queries() -> list[tuple[str, str]]:
    data = json.loads(DASHBOARD.read_text())
    return [
        (p["title"], substitute(t["expr"]))
        for p in data["panels"]
        if p["type"] != "row"
        for t in p["targets"]
    ]


def rule_exprs() -> list[tuple[str, str]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [(r.get("alert") or r["record"], r["expr"]) for g in groups for r in g["rules"]]


@pytest.mark.slow
def test_every_dashboard_query_returns_series_and_every_rule_parses(
    make_stack: StackFactory, servers: ServerFactory, tmp_path: Path
) -> None:
    stack = make_stack(visibility_timeout_seconds=5)
    # A presigned upload nobody uses expires at once: the reconciler's repair series.
    due_at_once = {"CHUTE_PRESIGN_SECONDS": "1", "CHUTE_OVERDUE_GRACE_SECONDS": "0"}
    api = servers("api", stack, **due_at_once)
    presign = {"filename": "never.bin", "content_type": "text/plain", "size": 10}
    assert httpx.post(f"{api.url}/v1/uploads/presign", json=presign).status_code in (200, 201)
    reconciler = servers("reconciler", stack, **due_at_once)
    # Before any worker runs: a job whose object vanishes, and a poison message.
    gone = upload(api.url, "vanishing.bin")
    stack.client("s3").delete_object(Bucket=stack.pipeline.bucket, Key=f"incoming/default/{gone}")
    stack.client("sqs").send_message(QueueUrl=stack.queue_url(), MessageBody="garbage")
    worker = servers("worker", stack, CHUTE_QUEUE_POLL_SECONDS="1")
    targets = [
        Target(
            "chute-api", api.url.removeprefix("http://"), {"namespace": NAMESPACE, "pod": "api-0"}
        ),
        Target(
            "chute-worker",
            worker.url.removeprefix("http://"),
            {"namespace": NAMESPACE, "pod": "worker-0"},
        ),
        Target(
            "chute-reconciler",
            reconciler.url.removeprefix("http://"),
            {"namespace": NAMESPACE, "pod": "reconciler-0"},
        ),
    ]
    with prometheus(
        tmp_path / "prom", targets, rule_files=[RULES], backfill=openmetrics(RECORDED, minutes=20)
    ) as prom:
        assert httpx.post(f"{api.url}/v1/uploads", content=b"").status_code == 400
        job_ids: list[str] = []
        # Waves, each scraped before the next, so every counter moves between samples
        # and rates over them are non-zero.
        for wave in range(WAVES):
            job_ids += upload_many(api.url, [f"w{wave}-{i}.txt" for i in range(PER_WAVE)])

            def scraped(expected: int = len(job_ids) + 1) -> bool:
                found = prom.series(f"sum(chute_jobs_finished_total{{{SCOPE}}})")
                return bool(found) and float(found[0]["value"][1]) >= expected

            wait_until(scraped, timeout=60, interval=0.5, what=f"wave {wave} scraped")
        empty: list[str] = []
        for title, expr in dashboard_queries():
            if not prom.series(expr):
                empty.append(f"{title}: {expr}")
        assert not empty, "dashboard queries without series:\n" + "\n".join(empty)
        errors = []
        for name, expr in rule_exprs():
            body: dict[str, Any] = prom.query(expr)
            if body["status"] != "success":
                errors.append(f"{name}: {body.get('error')}")
        assert not errors, errors

        def evaluated() -> list[dict[str, Any]] | None:
            groups = httpx.get(f"{prom.url}/api/v1/rules").json()["data"]["groups"]
            rules: list[dict[str, Any]] = [r for g in groups for r in g["rules"]]
            return rules if all(r["health"] != "unknown" for r in rules) else None

        rules = wait_until(evaluated, timeout=60, interval=1, what="every rule evaluated")
        assert [r["name"] for r in rules if r["health"] != "ok"] == [], rules
