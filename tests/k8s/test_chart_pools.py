"""The chart with worker pools (helm/chute/ci/pools-values.yaml): one worker Deployment,
scaler, PDB, metrics Service and NetworkPolicy per pool, each scaler on its own queue,
and pool settings the services themselves accept."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chute_core.settings import PipelineSettings
from chute_ops.subscribers import SubscriberSettings
from tests.k8s.chart import CHART, config, objects, run_helm

POOLS = {
    "default": "rel-chute-worker",
    "images": "rel-chute-worker-images",
    "bulk": "rel-chute-worker-bulk",
}


def _named(kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects("pools", kind)}


def _env(deployment: dict[str, Any]) -> dict[str, str]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def test_each_pool_has_its_deployment_pdb_service_network_policy_and_monitor() -> None:
    workers = set(POOLS.values())
    for kind in ("Deployment", "PodDisruptionBudget", "Service", "NetworkPolicy", "ServiceMonitor"):
        assert workers <= set(_named(kind)), kind
    deployments = _named("Deployment")
    for pool, name in POOLS.items():
        selector = deployments[name]["spec"]["selector"]["matchLabels"]
        others = [d for n, d in deployments.items() if n != name]
        for other in others:  # no Deployment's selector takes another pool's pods
            labels = other["spec"]["template"]["metadata"]["labels"]
            assert not selector.items() <= labels.items(), (name, other["metadata"]["name"])
        if pool != "default":
            assert _env(deployments[name])["CHUTE_POOL"] == pool


def test_each_pools_scaler_watches_its_own_queue_and_targets_its_deployment() -> None:
    settings = config("pools")
    pools = _pipeline(settings).pool_set()
    for scaled in objects("pools", "ScaledObject"):
        target = scaled["spec"]["scaleTargetRef"]["name"]
        pool = next(p for p, name in POOLS.items() if name == target)
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["metadata"]["queueURL"].rsplit("/", 1)[1] == pools.get(pool).queue
        assert trigger["authenticationRef"]["name"] in _named("TriggerAuthentication")
    assert {s["spec"]["scaleTargetRef"]["name"] for s in objects("pools", "ScaledObject")} == set(
        POOLS.values()
    )


def test_a_pools_own_values_override_the_shared_worker_values() -> None:
    deployments = _named("Deployment")
    images = deployments["rel-chute-worker-images"]
    assert _env(images)["CHUTE_WORKER_CONCURRENCY"] == "4"
    assert _env(images)["CHUTE_WORKER_POOL_SIZE"] == "2"
    (container,) = images["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["cpu"] == "2"
    (default,) = deployments["rel-chute-worker"]["spec"]["template"]["spec"]["containers"]
    assert default["resources"]["limits"]["cpu"] == "1"
    scaled = {s["metadata"]["name"]: s["spec"] for s in objects("pools", "ScaledObject")}
    assert scaled["rel-chute-worker-images"]["maxReplicaCount"] == 40
    assert scaled["rel-chute-worker-bulk"]["minReplicaCount"] == 0


def _pipeline(settings: dict[str, str]) -> PipelineSettings:
    return PipelineSettings.model_validate(
        {
            "queue": settings["CHUTE_QUEUE"],
            "pools": json.loads(settings["CHUTE_POOLS"]),
            "pool_routes": json.loads(settings["CHUTE_POOL_ROUTES"]),
        }
    )


def test_the_rendered_pool_settings_are_what_the_services_accept() -> None:
    settings = config("pools")
    pools = _pipeline(settings).pool_set()
    assert pools.names() == ["default", "bulk", "images"]
    assert pools.get("bulk").visibility_timeout_seconds == 300
    assert pools.route(tenant="acme", processors=None, content_type="image/png").name == "bulk"
    assert pools.route(tenant="t", processors=None, content_type="image/png").name == "images"
    subscribers = SubscriberSettings.model_validate(
        {"subscribers": json.loads(settings["CHUTE_SUBSCRIBERS"])}
    ).subscribers
    assert [(s.protocol, s.endpoint) for s in subscribers] == [
        ("sqs", "chute-audit"),
        ("https", "https://analytics.example.com/s3-events"),
    ]
    assert subscribers[1].filter_policy == {
        "Records": {"s3": {"object": {"size": [{"numeric": [">", 1048576]}]}}}
    }


def test_every_pool_monitor_labels_its_series_with_the_pool() -> None:
    monitors = _named("ServiceMonitor")
    for pool, name in POOLS.items():
        (endpoint,) = monitors[name]["spec"]["endpoints"]
        assert endpoint["relabelings"] == [{"targetLabel": "pool", "replacement": pool}]
        assert endpoint["honorLabels"] is True


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ("worker.pools.gpu.match.tenants[0]=a", "missing property 'queue'"),
        ("worker.pools.default.queue=q", "default"),
        ("worker.pools.GPU.queue=q", "GPU"),
    ],
)
def test_a_pool_the_services_would_refuse_is_refused_by_the_schema(
    values: str, message: str
) -> None:
    result = run_helm("template", "rel", str(CHART), "--set", values)
    assert result.returncode != 0
    assert message in result.stderr


def test_a_keda_pool_without_a_queue_url_fails_the_render_with_one_line() -> None:
    result = run_helm(
        "template",
        "rel",
        str(CHART),
        "--set",
        "pipeline.queueUrl=https://sqs.x/1/q",
        "--set",
        "worker.keda.enabled=true",
        "--set",
        "worker.pools.gpu.queue=chute-gpu",
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert "worker.pools.gpu.queueUrl is required" in errors[0]
