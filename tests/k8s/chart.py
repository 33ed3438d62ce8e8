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
    return [d for d in yaml.safe_load_all(template_text(*SCENARIOS[scenario])) if d]


def objects(scenario: str, kind: str) -> list[dict[str, Any]]:
    return [o for o in render(scenario) if o["kind"] == kind]


def pod_specs(scenario: str) -> list[dict[str, Any]]:
    specs = []
    for obj in render(scenario):
        if obj["kind"] in ("Deployment", "Job"):
            specs.append(obj["spec"]["template"]["spec"])
        elif obj["kind"] == "ScaledJob":
            specs.append(obj["spec"]["jobTargetRef"]["template"]["spec"])
    return specs


def config(scenario: str) -> dict[str, str]:
    (cm,) = [o for o in objects(scenario, "ConfigMap") if o["metadata"]["name"].endswith("-config")]
    data: dict[str, str] = cm["data"]
    return data
