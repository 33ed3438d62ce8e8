"""Render the Helm chart with the real helm binary, for the chart tests."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support.processes import REPO

CHART = REPO / "helm/chute"
SCENARIOS: dict[str, list[str]] = {
    "defaults": [],
    "k8s-kind": ["-f", str(REPO / "k8s/kind/values.yaml")],
    "k8s-eks": ["-f", str(REPO / "k8s/eks/values.yaml")],
    **{
        p.name.removesuffix("-values.yaml"): ["-f", str(p)]
        for p in sorted((CHART / "ci").glob("*-values.yaml"))
    },
}


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; an API server rejects the manifest (or
    silently drops one, depending on the client). This loader refuses it."""


def _unique_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def load_all(text: str) -> list[dict[str, Any]]:
    """Every document of a rendered chart; a duplicate key anywhere is an error."""
    return [d for d in yaml.load_all(text, Loader=UniqueKeyLoader) if d]


def helm() -> str:
    found = shutil.which("helm") or str(REPO / ".tools/bin/helm")
    assert Path(found).exists(), "helm missing: `make test` installs it (scripts/install_helm.py)"
    return found


def run_helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm(), *args], capture_output=True, text=True, check=False)


def template_text(*args: str) -> str:
    result = run_helm("template", "rel", str(CHART), "--namespace", "chute", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


@functools.cache
def render(scenario: str) -> list[dict[str, Any]]:
    return load_all(template_text(*SCENARIOS[scenario]))


def objects(scenario: str, kind: str) -> list[dict[str, Any]]:
    return [o for o in render(scenario) if o["kind"] == kind]


def pod_specs(scenario: str) -> list[dict[str, Any]]:
    specs = []
    for obj in render(scenario):
        if obj["kind"] in ("Deployment", "Job"):
            specs.append(obj["spec"]["template"]["spec"])
        elif obj["kind"] == "ScaledJob":
            specs.append(obj["spec"]["jobTargetRef"]["template"]["spec"])
        elif obj["kind"] == "CronJob":
            specs.append(obj["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    return specs


def config(scenario: str) -> dict[str, str]:
    (cm,) = [o for o in objects(scenario, "ConfigMap") if o["metadata"]["name"].endswith("-config")]
    data: dict[str, str] = cm["data"]
    return data
