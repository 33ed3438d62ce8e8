"""The chart, validated as strictly as an API server would, for every scenario in
helm/chute/ci/ (plus the defaults)."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.k8s.chart import (
    CHART,
    SCENARIOS,
    config,
    load_all,
    objects,
    pod_specs,
    render,
    run_helm,
    template_text,
)
from tests.support.processes import REPO

# The chart's kubeVersion floor (preStop's sleep action is on by default from 1.30)
# and the newest schema kubernetes-validate ships.
KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]
CRDS = REPO / "tests/k8s/crds"
CUSTOM_GROUPS = ("keda.sh/", "monitoring.coreos.com/")


def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    schemas = {}
    for path in CRDS.glob("*/*.yaml"):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = version["schema"]["openAPIV3Schema"]
            schemas[(f"{group}/{version['name']}", kind)] = _closed(copy.deepcopy(schema))
    return schemas


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """Reject unknown fields, as a real API server's strict field validation does."""
    preserve = schema.get("x-kubernetes-preserve-unknown-fields")
    if schema.get("type") == "object" and "properties" in schema and not preserve:
        schema.setdefault("additionalProperties", False)
    for key in ("properties", "patternProperties"):
        for sub in schema.get(key, {}).values():
            _closed(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _closed(schema[key])
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            _closed(sub)
    return schema


CRD_SCHEMAS = crd_schemas()


def test_helm_lint_strict_passes_for_every_scenario() -> None:
    for scenario, args in SCENARIOS.items():
        result = run_helm("lint", "--strict", str(CHART), *args)
        assert result.returncode == 0, f"{scenario}: {result.stdout}{result.stderr}"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_builtin_objects_validate_strictly(scenario: str, version: str) -> None:
    for obj in render(scenario):
        if obj["apiVersion"].startswith(CUSTOM_GROUPS):
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{scenario} {obj['kind']}/{obj['metadata']['name']} on {version}: {exc}")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_custom_resources_validate_against_their_crds(scenario: str) -> None:
    for obj in render(scenario):
        if not obj["apiVersion"].startswith(CUSTOM_GROUPS):
            continue
        schema = CRD_SCHEMAS[(obj["apiVersion"], obj["kind"])]
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(obj), key=str)
        assert not errors, f"{scenario} {obj['kind']}: {[e.message for e in errors][:5]}"


def test_scenarios_cover_the_required_matrix() -> None:
    kinds = {s: {o["kind"] for o in render(s)} for s in SCENARIOS}
    assert "ScaledObject" in kinds["kind"]
    assert "ScaledJob" in kinds["scaledjob"]
    assert "Deployment" in kinds["scaledjob"]  # the API's
    assert "Ingress" in kinds["ingress-tls"]
    assert {"ServiceMonitor", "PrometheusRule", "NetworkPolicy"} <= kinds["monitoring"]
    assert "ScaledObject" in kinds["min-zero"]
    (sa,) = [o for o in objects("eks-irsa", "ServiceAccount") if "worker" in o["metadata"]["name"]]
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(
        ":role/chute-worker"
    )


@pytest.mark.parametrize("scenario", ["kind", "eks-irsa", "min-zero"])
def test_scaled_object_targets_the_worker_and_its_queue(scenario: str) -> None:
    (scaled,) = objects(scenario, "ScaledObject")
    deployments = {o["metadata"]["name"] for o in objects(scenario, "Deployment")}
    target = scaled["spec"]["scaleTargetRef"]
    assert target["kind"] == "Deployment"
    assert target["name"] in deployments
    assert target["name"].endswith("-worker")
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "aws-sqs-queue"
    meta = trigger["metadata"]
    settings = config(scenario)
    assert meta["queueURL"].rsplit("/", 1)[1] == settings["CHUTE_QUEUE"]
    assert meta["awsRegion"] == settings["CHUTE_REGION"]
    assert meta["scaleOnInFlight"] == "true"
    if "CHUTE_AWS_ENDPOINT_URL" in settings:
        assert meta["awsEndpoint"] == settings["CHUTE_AWS_ENDPOINT_URL"]
    auth_name = trigger["authenticationRef"]["name"]
    assert auth_name in {o["metadata"]["name"] for o in objects(scenario, "TriggerAuthentication")}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_worker_grace_period_covers_the_shutdown_grace(scenario: str) -> None:
    grace = int(config(scenario)["CHUTE_SHUTDOWN_GRACE_SECONDS"])
    for spec in pod_specs(scenario):
        if spec["containers"][0]["name"] == "worker":
            assert spec["terminationGracePeriodSeconds"] >= grace + 10


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_container_runs_non_root_on_a_read_only_root(scenario: str) -> None:
    specs = pod_specs(scenario)
    assert specs
    for spec in specs:
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for container in spec["containers"]:
            ctx = container["securityContext"]
            assert ctx["runAsNonRoot"] is True
            assert ctx["readOnlyRootFilesystem"] is True
            assert ctx["allowPrivilegeEscalation"] is False
            assert ctx["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["requests"]
            assert container["resources"]["limits"]
            assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"])


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kind_moto_manifests_validate_strictly(version: str) -> None:
    for obj in load_all((REPO / "k8s/kind/moto.yaml").read_text()):
        kubernetes_validate.validate(obj, version, strict=True)


def test_chart_readme_documents_every_value() -> None:
    readme = (CHART / "README.md").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    missing = [".".join(p) for p, _ in leaves(values) if f"`{'.'.join(p)}`" not in readme]
    assert not missing, f"helm/chute/README.md lacks {missing}"


def test_unknown_and_mistyped_values_are_rejected() -> None:
    unknown = run_helm("template", "rel", str(CHART), "--set", "worker.concurency=4")
    assert unknown.returncode != 0
    assert "additional properties 'concurency' not allowed" in unknown.stderr
    mistyped = run_helm("template", "rel", str(CHART), "--set", "worker.concurrency=lots")
    assert mistyped.returncode != 0
    assert "/worker/concurrency" in mistyped.stderr


def test_keda_without_a_queue_url_fails_with_a_readable_message() -> None:
    result = run_helm("template", "rel", str(CHART), "--set", "worker.keda.enabled=true")
    assert result.returncode != 0
    assert "pipeline.queueUrl is required" in result.stderr


def leaves(values: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    free = {
        "commonLabels",
        "annotations",
        "podAnnotations",
        "nodeSelector",
        "affinity",
        "labels",
        "routes",
        "tenants",
    }
    if (
        isinstance(values, dict)
        and values
        and path[-1:] not in (("resources",), ("readinessProbe",), ("livenessProbe",))
        and not (path and path[-1] in free)
    ):
        return [leaf for k, v in values.items() for leaf in leaves(v, (*path, k))]
    return [(path, values)]


def mutations(value: Any) -> list[tuple[str, str]]:
    """(--set flag, new value) candidates different from `value` (a base scenario may
    already hold one of them, so booleans try both)."""
    if isinstance(value, bool):
        return [("--set", "true"), ("--set", "false")]
    if isinstance(value, int):
        return [("--set", str(value + 3))]
    if isinstance(value, list):
        return [("--set-json", json.dumps([{"key": "chute-test", "operator": "Exists"}]))]
    if isinstance(value, dict):
        new = {"chute-test": "x"} if not value else {"requests": {"cpu": "7m"}}
        return [("--set-json", json.dumps(new))]
    swaps = {
        "scaledObject": "scaledJob",
        "aws": "secret",
        "workload": "keda",
        "IfNotPresent": "Always",
        "ClusterIP": "NodePort",
    }
    return [("--set", swaps.get(value, f"{value}x"))]


EVERYTHING_ON = [
    "-f",
    str(CHART / "ci/kind-values.yaml"),
    "-f",
    str(CHART / "ci/monitoring-values.yaml"),
    "-f",
    str(CHART / "ci/ingress-tls-values.yaml"),
    "-f",
    str(CHART / "ci/network-values.yaml"),
]
# Helm's own key for values a parent chart shares: accepted (subchart use), never read.
HELM_KEYS = {"global"}


@pytest.mark.slow  # one render per value and base scenario: about 200 helm runs
def test_every_value_in_values_yaml_changes_the_output() -> None:
    """A value no template reads is a lie in the documentation."""
    bases = {
        "everything on": EVERYTHING_ON,
        "scaledJob": ["-f", str(CHART / "ci/scaledjob-values.yaml")],
        "no autoscaling": ["--set", "api.hpa.enabled=false"],
        "aws auth with a role": [
            *EVERYTHING_ON,
            "--set",
            "worker.keda.auth.type=aws",
            "--set",
            "worker.keda.auth.roleArn=arn:aws:iam::1:role/k",
            "--set",
            "aws.credentials.existingSecret=s",
        ],
    }
    rendered = {name: template_text(*args) for name, args in bases.items()}
    unused = []
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for path, value in leaves(values):
        key = ".".join(path)
        if key in HELM_KEYS:
            continue
        changed = any(
            (
                result := run_helm(
                    "template",
                    "rel",
                    str(CHART),
                    "--namespace",
                    "chute",
                    *args,
                    flag,
                    f"{key}={new}",
                )
            ).returncode
            != 0
            or result.stdout != rendered[name]
            for name, args in bases.items()
            for flag, new in mutations(value)
        )
        if not changed:
            unused.append(key)
    assert not unused, f"values no template uses: {unused}"


def desired_replicas(scaled: dict[str, Any], visible: int, in_flight: int, current: int = 0) -> int:
    """What KEDA and the HPA choose for an aws-sqs-queue trigger: activation decides
    0 <-> 1, then ceil(messages / queueLength) clamped to min/max replicas."""
    meta = scaled["spec"]["triggers"][0]["metadata"]
    spec = scaled["spec"]
    messages = visible + (in_flight if meta.get("scaleOnInFlight", "true") == "true" else 0)
    minimum, maximum = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
    if messages <= int(meta.get("activationQueueLength", "0")):
        return minimum
    wanted = math.ceil(messages / int(meta["queueLength"]))
    return max(minimum, 1, min(maximum, wanted))


@pytest.mark.parametrize(
    ("visible", "in_flight", "expected"),
    [
        (0, 0, 0),  # empty: scaled to zero
        (1, 0, 1),  # any message wakes one worker
        (8, 0, 1),  # one worker holds its concurrency (8) in flight, no more
        (9, 0, 2),
        (100, 60, 20),  # in-flight messages count: busy workers are not scaled away
        (320, 0, 40),
        (100_000, 0, 50),  # clamped at maxReplicaCount
    ],
)
def test_keda_replica_count_for_queue_depths(visible: int, in_flight: int, expected: int) -> None:
    (scaled,) = objects("min-zero", "ScaledObject")
    assert desired_replicas(scaled, visible, in_flight) == expected


def test_default_scaling_reaches_its_maximum() -> None:
    (scaled,) = objects("kind", "ScaledObject")
    maximum = scaled["spec"]["maxReplicaCount"]
    assert maximum > 1
    assert desired_replicas(scaled, 10_000, 0) == maximum
    behavior = scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] > 0
    assert behavior["scaleDown"]["policies"][0]["type"] == "Pods"


def test_prometheus_rule_ships_every_alert_with_absolute_runbook_urls() -> None:
    (rule,) = objects("monitoring", "PrometheusRule")
    source = yaml.safe_load((CHART / "files/chute-rules.yaml").read_text())
    shipped = [r for g in rule["spec"]["groups"] for r in g["rules"]]
    assert len(shipped) == sum(len(g["rules"]) for g in source["groups"])
    for r in shipped:
        if "alert" in r:
            assert r["annotations"]["runbook_url"].startswith("https://")


def test_dashboard_configmap_carries_the_dashboard_for_the_sidecar() -> None:
    (cm,) = [o for o in objects("monitoring", "ConfigMap") if "dashboard" in o["metadata"]["name"]]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert (
        cm["data"]["chute-dashboard.json"].strip()
        == (CHART / "files/chute-dashboard.json").read_text().strip()
    )


def test_config_change_rolls_the_pods() -> None:
    (api,) = [
        o for o in objects("defaults", "Deployment") if o["metadata"]["name"].endswith("-api")
    ]
    checksum = api["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    other = [
        o
        for o in render("kind")
        if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-api")
    ]
    assert other[0]["spec"]["template"]["metadata"]["annotations"]["checksum/config"] != checksum


def test_names_fit_in_63_characters() -> None:
    long = run_helm("template", "a-very-long-release-name-that-goes-on-and-on-and-on", str(CHART))
    assert long.returncode == 0, long.stderr
    for obj in load_all(long.stdout):
        if obj:
            assert len(obj["metadata"]["name"]) <= 63, obj["metadata"]["name"]


def test_chart_declares_kube_and_app_versions() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["kubeVersion"] == ">=1.30.0-0"  # preStop sleep is beta (on) from 1.30
    assert chart["appVersion"]
    assert Path(CHART / "values.schema.json").exists()


def test_the_chart_loader_refuses_a_duplicate_key() -> None:
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key 'env'"):
        load_all("spec:\n  env: [a]\n  env: [b]\n")


def test_a_scaled_job_worker_keeps_every_shared_variable_beside_its_own() -> None:
    (job,) = objects("scaledjob", "ScaledJob")
    (container,) = job["spec"]["jobTargetRef"]["template"]["spec"]["containers"]
    names = [e["name"] for e in container["env"]]
    assert names == ["CHUTE_CURSOR_SECRET", "CHUTE_WEBHOOK_SECRET", "CHUTE_WORKER_ONE_BATCH"]


KEDA_ON = ["--set", "worker.keda.enabled=true", "--set", "pipeline.queueUrl=https://q"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [*KEDA_ON, "--set", "worker.keda.auth.identityOwner=workload"],
            "set worker.serviceAccount.roleArn",
        ),
        (
            [
                *KEDA_ON,
                "--set",
                "worker.keda.auth.identityOwner=workload",
                "--set",
                "worker.serviceAccount.roleArn=arn:aws:iam::1:role/w",
                "--set",
                "worker.keda.auth.roleArn=arn:aws:iam::1:role/k",
            ],
            "mutually exclusive",
        ),
        (
            ["--set", "api.ingress.enabled=true", "--set", "api.auth.mode=none"],
            "api.auth.mode=none",
        ),
        (
            [*KEDA_ON, "--set", "worker.keda.mode=scaledJob", "--set", "worker.keda.queueLength=9"],
            "worker.keda.queueLength=9 exceeds worker.concurrency=8",
        ),
    ],
    ids=["workload-without-role", "workload-and-roleArn", "no-auth-on-ingress", "scaledjob-queue"],
)
def test_a_combination_that_cannot_work_fails_the_render_with_one_line(
    args: list[str], message: str
) -> None:
    result = run_helm("template", "rel", str(CHART), *args)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert message in errors[0]


@pytest.mark.parametrize(("scenario", "owner"), [("k8s-eks", "keda"), ("eks-irsa", "workload")])
def test_keda_authenticates_with_the_identity_owner_the_values_name(
    scenario: str, owner: str
) -> None:
    (auth,) = objects(scenario, "TriggerAuthentication")
    assert auth["spec"]["podIdentity"] == {"provider": "aws", "identityOwner": owner}


def test_the_apis_shutdown_grace_is_derived_from_its_pods_grace_period() -> None:
    assert config("defaults")["CHUTE_API_SHUTDOWN_GRACE_SECONDS"] == "50"  # 60 - 5 - 5
    text = template_text(
        "--set", "api.terminationGracePeriodSeconds=120", "--set", "api.preStopSleepSeconds=10"
    )
    (cm,) = [
        d
        for d in load_all(text)
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-config")
    ]
    assert cm["data"]["CHUTE_API_SHUTDOWN_GRACE_SECONDS"] == "105"
    too_short = run_helm(
        "template", "rel", str(CHART), "--set", "api.terminationGracePeriodSeconds=8"
    )
    assert too_short.returncode != 0
    assert "leaves no time for uploads in flight" in too_short.stderr


def _deployments(text: str) -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"].rsplit("-", 1)[-1]: d
        for d in load_all(text)
        if d["kind"] == "Deployment"
    }


def test_the_values_users_of_community_charts_expect_reach_both_pods() -> None:
    digest = "sha256:" + "a" * 64
    text = template_text(
        "--set-json", 'imagePullSecrets=[{"name": "regcred"}]',
        "--set", "api.priorityClassName=high", "--set", "worker.priorityClassName=high",
        "--set", "api.podLabels.team=uploads", "--set", "worker.podLabels.team=uploads",
        "--set-json", 'api.extraEnv=[{"name": "CHUTE_LOG_LEVEL", "value": "WARNING"}]',
        "--set-json", 'worker.extraEnv=[{"name": "CHUTE_LOG_LEVEL", "value": "WARNING"}]',
        "--set-json", 'worker.extraEnvFrom=[{"secretRef": {"name": "otel"}}]',
        "--set-json", 'api.extraVolumes=[{"name": "ca", "configMap": {"name": "ca"}}]',
        "--set-json", 'api.extraVolumeMounts=[{"name": "ca", "mountPath": "/etc/ca"}]',
        "--set", f"worker.image.digest={digest}",
    )  # fmt: skip
    deployments = _deployments(text)
    for name in ("api", "worker"):
        pod = deployments[name]["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        assert pod["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
        assert pod["spec"]["priorityClassName"] == "high"
        assert pod["spec"]["automountServiceAccountToken"] is False
        assert pod["metadata"]["labels"]["team"] == "uploads"
        assert {"name": "CHUTE_LOG_LEVEL", "value": "WARNING"} in container["env"]
    worker = deployments["worker"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["image"] == f"ghcr.io/chute-dev/chute-worker@{digest}"
    assert {"secretRef": {"name": "otel"}} in worker["envFrom"]
    assert worker["resources"]["requests"]["ephemeral-storage"] == str(2 * 1024**3)
    api = deployments["api"]["spec"]["template"]["spec"]
    assert {"name": "ca", "configMap": {"name": "ca"}} in api["volumes"]
    assert {"name": "ca", "mountPath": "/etc/ca"} in api["containers"][0]["volumeMounts"]


def test_the_ingress_routes_only_the_api_and_tls_may_come_from_acm() -> None:
    (ingress,) = objects("ingress-tls", "Ingress")
    paths = [p["path"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]]
    assert paths == ["/v1"]  # no /metrics, /docs, /openapi.json from outside
    (alb,) = objects("k8s-eks", "Ingress")
    assert alb["spec"]["tls"] == [{"hosts": ["uploads.acme.example"]}]
    annotations = alb["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/healthcheck-path"] == "/healthz"
    assert "alb.ingress.kubernetes.io/certificate-arn" in annotations


def test_egress_is_dns_https_without_metadata_and_the_pod_identity_agent() -> None:
    policies = {p["metadata"]["name"]: p for p in objects("network", "NetworkPolicy")}
    assert len(policies) == 3  # api, worker, reconciler
    for policy in policies.values():
        spec = policy["spec"]
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        blocks = [
            t["ipBlock"] for rule in spec["egress"] for t in rule.get("to", []) if "ipBlock" in t
        ]
        assert {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]} in blocks
        assert {"cidr": "169.254.170.23/32"} in blocks
    api = next(p for name, p in policies.items() if name.endswith("-api"))
    assert {"ipBlock": {"cidr": "10.0.0.0/16"}} in api["spec"]["ingress"][0]["from"]
    reconciler = next(p for name, p in policies.items() if name.endswith("-reconciler"))
    assert reconciler["spec"]["ingress"] == []  # it serves nothing


def test_helm_test_checks_healthz_and_uploads_nothing() -> None:
    (pod,) = [o for o in render("defaults") if o["kind"] == "Pod"]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = pod["spec"]["containers"][0]["command"][-1]
    assert "/healthz" in script
    assert "/v1/" not in script


def test_several_api_replicas_without_a_shared_cursor_secret_are_refused() -> None:
    jwt = [
        "--set", "api.auth.mode=jwt",
        "--set", "api.auth.jwt.issuer=https://i", "--set", "api.auth.jwt.audience=a",
        "--set", "api.auth.jwt.jwksUrl=https://i/jwks",
    ]  # fmt: skip
    refused = run_helm("template", "rel", str(CHART), *jwt)
    assert refused.returncode != 0
    assert "api.cursorSecret.existingSecret" in refused.stderr
    shared = template_text(*jwt, "--set", "api.cursorSecret.existingSecret=cursors")
    api = _deployments(shared)["api"]["spec"]["template"]["spec"]["containers"][0]
    (cursor,) = [e for e in api["env"] if e["name"] == "CHUTE_CURSOR_SECRET"]
    assert cursor["valueFrom"]["secretKeyRef"] == {"name": "cursors", "key": "cursor-secret"}


def test_the_chart_renders_as_a_subchart_of_an_umbrella(tmp_path: Path) -> None:
    umbrella = tmp_path / "platform"
    (umbrella / "charts").mkdir(parents=True)
    (umbrella / "Chart.yaml").write_text(
        "apiVersion: v2\nname: platform\nversion: 1.0.0\n"
        f"dependencies:\n  - name: chute\n    version: '*'\n    repository: file://{CHART}\n"
    )
    (umbrella / "values.yaml").write_text("global: {environment: test}\nchute: {}\n")
    built = run_helm("dependency", "build", str(umbrella))
    assert built.returncode == 0, built.stderr
    result = run_helm("template", "p", str(umbrella), "--namespace", "chute")
    assert result.returncode == 0, result.stderr
    kinds = {d["kind"] for d in load_all(result.stdout)}
    assert {"Deployment", "Service", "ConfigMap"} <= kinds


def test_a_pod_without_variables_of_its_own_renders_no_empty_env() -> None:
    text = template_text(
        "--set", "api.auth.mode=jwt", "--set", "api.auth.jwt.issuer=https://i",
        "--set", "api.auth.jwt.audience=a", "--set", "api.auth.jwt.jwksUrl=https://i/j",
        "--set", "api.hpa.enabled=false", "--set", "api.replicas=1",
    )  # fmt: skip
    for deployment in _deployments(text).values():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert "env" not in container


def test_cors_origins_reach_the_api_and_the_bootstrap_job_as_one_list() -> None:
    origins = "pipeline.corsOrigins={https://app.example.com,http://localhost:8080}"
    text = template_text("--set", origins, "--set", "bootstrap.enabled=true")
    docs = load_all(text)
    (cm,) = [
        o for o in docs if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-config")
    ]
    expected = "https://app.example.com,http://localhost:8080"
    assert cm["data"]["CHUTE_CORS_ORIGINS"] == expected
    (job,) = [o for o in docs if o["kind"] == "Job"]
    env = {
        e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["CHUTE_CORS_ORIGINS"] == expected
    assert "CHUTE_CORS_ORIGINS" not in config("defaults")


def test_a_cors_origin_with_a_path_is_refused_by_the_schema() -> None:
    refused = run_helm("template", "rel", str(CHART), "--set", "pipeline.corsOrigins={https://a/b}")
    assert refused.returncode != 0
    assert "corsOrigins" in refused.stderr


def test_the_upload_memory_budget_is_derived_from_the_api_memory_limit() -> None:
    assert config("defaults")["CHUTE_API_UPLOAD_MEMORY_BYTES"] == str(160 * 1024 * 1024)
    bigger = load_all(template_text("--set", "api.resources.limits.memory=1Gi"))
    (cm,) = [
        o for o in bigger if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-config")
    ]
    assert cm["data"]["CHUTE_API_UPLOAD_MEMORY_BYTES"] == str((1024 - 192) * 1024 * 1024 // 2)
    explicit = load_all(template_text("--set", "api.uploadMemoryBytes=67108864"))
    (cm,) = [
        o
        for o in explicit
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-config")
    ]
    assert cm["data"]["CHUTE_API_UPLOAD_MEMORY_BYTES"] == "67108864"


def test_a_memory_limit_with_no_room_for_one_upload_is_refused() -> None:
    refused = run_helm("template", "rel", str(CHART), "--set", "api.resources.limits.memory=200Mi")
    assert refused.returncode != 0
    assert "less than one upload's 1.25 parts" in refused.stderr


def test_the_reconciler_is_a_forbid_cronjob_with_its_own_account_and_the_pipelines_deadlines() -> (
    None
):
    (cron,) = objects("defaults", "CronJob")
    spec = cron["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "rel-chute-reconciler"
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["command"][-2:] == ["reconcile", "--once"]
    accounts = {a["metadata"]["name"] for a in objects("defaults", "ServiceAccount")}
    assert "rel-chute-reconciler" in accounts
    (config,) = [
        c for c in objects("defaults", "ConfigMap") if c["metadata"]["name"].endswith("-config")
    ]
    assert config["data"]["CHUTE_STUCK_AFTER_SECONDS"] == "600"
    assert config["data"]["CHUTE_OVERDUE_GRACE_SECONDS"] == "60"


def test_a_disabled_reconciler_renders_no_cronjob_and_no_account() -> None:
    rendered = load_all(template_text("--set", "reconciler.enabled=false"))
    assert not [o for o in rendered if o["kind"] == "CronJob"]
    names = {o["metadata"]["name"] for o in rendered if o["kind"] == "ServiceAccount"}
    assert "rel-chute-reconciler" not in names
