"""The Grafana dashboard, checked without a screenshot: generated from typed builders
of the current schema, every panel with a unit and a description, every variable used,
no hard-coded data source."""

import json
import re
import runpy
import sys
from io import StringIO
from typing import Any

import pytest

from tests.support.processes import REPO

DASHBOARD = REPO / "helm/chute/files/chute-dashboard.json"
GENERATOR = REPO / "observability/build_dashboard.py"
CURRENT_SCHEMA_VERSION = 41  # Grafana 11.6, the SDK release pinned in uv.lock


def load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def panels() -> list[dict[str, Any]]:
    return [p for p in load()["panels"] if p["type"] != "row"]


def test_committed_dashboard_is_what_the_generator_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    out = StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    runpy.run_path(str(GENERATOR), run_name="__main__")
    assert json.loads(out.getvalue()) == load(), (
        "regenerate: python observability/build_dashboard.py"
    )


def test_dashboard_uses_the_current_schema_and_sdk_round_trips_it() -> None:
    from grafana_foundation_sdk.models.dashboard import Dashboard

    data = load()
    assert data["schemaVersion"] == CURRENT_SCHEMA_VERSION
    parsed = Dashboard.from_json(data)
    assert parsed.uid == "chute-overview"
    assert len(parsed.panels or []) == len(data["panels"])


def test_every_panel_has_a_unit_a_description_and_thresholds() -> None:
    for panel in panels():
        assert panel["description"].strip(), panel["title"]
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
        assert panel["fieldConfig"]["defaults"]["thresholds"]["steps"], panel["title"]
        assert panel["targets"], panel["title"]


def test_every_variable_is_used_and_no_data_source_is_hard_coded() -> None:
    data = load()
    text = json.dumps(data["panels"]) + json.dumps(
        [v.get("query") for v in data["templating"]["list"]]
    )
    names = [v["name"] for v in data["templating"]["list"]]
    assert names == ["datasource", "namespace", "pool", "worker_deployment", "scaledobject"]
    for name in names:
        assert re.search(rf"\$\{{?{name}\b", text), f"${name} is never used"
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_dashboard_covers_what_sres_watch() -> None:
    exprs = " ".join(t["expr"] for p in panels() for t in p["targets"])
    for needle in [
        "chute_queue_messages",
        'queue="dlq"',
        "kube_deployment_status_replicas",
        "keda_scaler_metrics_value",
        "keda_scaler_active",
        "keda_scaler_detail_errors_total",
        "chute_job_end_to_end_seconds_bucket",
        "chute_job_processing_seconds_bucket",
        "chute_http_request_duration_seconds_bucket",
        "chute_upload_bytes_total",
        "chute_queue_exporter_last_success_timestamp_seconds",
        "chute_queue_oldest_message_age_seconds",
    ]:
        assert needle in exprs, needle


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in panels() for t in p["targets"]]


def test_generated_queries_are_scoped_by_namespace() -> None:
    for expr in dashboard_exprs():
        assert "$namespace" in expr, expr
