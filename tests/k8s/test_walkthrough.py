"""The kind walk-through of k8s/README.md, as a user would follow it: every step that
needs no cluster runs against a local stack (a missing header or prerequisite fails
here), and the names and ports the cluster steps use match what the chart renders."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import ServerFactory
from tests.k8s.chart import CHART, load_all, run_helm
from tests.support.polling import wait_until
from tests.support.processes import REPO
from tests.support.stack import Stack

README = REPO / "k8s/README.md"
CLUSTER_TOOLS = {"kind", "docker", "kubectl", "helm"}
README_URL = "http://localhost:8080"
UPLOADS = 5


def _walkthrough() -> str:
    text = README.read_text()
    (block,) = re.findall(r"## kind, step by step.*?```sh\n(.*?)```", text, re.S)
    return str(block)


def _commands(block: str) -> list[str]:
    """The block's commands, one per entry, continuation lines joined."""
    return [c for c in re.sub(r"\\\n\s*", " ", block).splitlines() if c.strip()]


def _needs_cluster(command: str) -> bool:
    first = command.split()[0]
    return first in CLUSTER_TOOLS


def _steps(block: str) -> tuple[list[str], list[str]]:
    """The local commands before the chart is installed, and after it."""
    before, after, seen_install = [], [], False
    for command in _commands(block):
        if command.startswith("helm install chute"):
            seen_install = True
        if command.lstrip().startswith("#") or _needs_cluster(command):
            continue
        (after if seen_install else before).append(command)
    return before, after


def _run(script: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_walkthrough_lists_the_chute_command_as_a_prerequisite() -> None:
    prerequisites = README.read_text().split("## kind, step by step", 1)[1].split("```", 1)[0]
    assert ".venv/bin" in prerequisites


def test_the_local_steps_of_the_kind_walkthrough_reach_succeeded(
    stack: Stack, servers: ServerFactory, tmp_path: Path
) -> None:
    before, after = _steps(_walkthrough())
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PYTHONPATH": str(REPO),
    }
    # Steps 1-3 without the cluster: the key and the keys file; then chute "installed".
    exports = _run([*before, 'echo "KEY=$KEY"'], tmp_path, env)
    key = exports.strip().rsplit("KEY=", 1)[1]
    keys_file = tmp_path / ".chute/kind-keys.yaml"
    assert keys_file.exists()
    api = servers("api", stack, CHUTE_AUTH="keys", CHUTE_API_KEYS_FILE=str(keys_file))
    servers("worker", stack)
    # Steps 4-5 against it, as written but for the address and the loop's length.
    local = [c.replace(README_URL, api.url) for c in after]
    output = _run(
        [f"KEY={key}", f"UPLOADS={UPLOADS}", *local, 'echo "JOB=$JOB"'],
        tmp_path,
        env,
    )
    job_id = output.strip().rsplit("JOB=", 1)[1]
    headers = {"Authorization": f"Bearer {key}"}

    def state() -> str | None:
        found = httpx.get(f"{api.url}/v1/jobs/{job_id}", headers=headers).json()["state"]
        return str(found) if found == "SUCCEEDED" else None

    assert wait_until(state, timeout=60, what="the walk-through's job") == "SUCCEEDED"
    listed = httpx.get(f"{api.url}/v1/jobs", params={"limit": 100}, headers=headers).json()
    assert len(listed["jobs"]) == 1 + UPLOADS  # every curl carried the key


@pytest.mark.parametrize("page", [README, *sorted((REPO / "docs").glob("*.md"))], ids=str)
def test_every_curl_to_the_api_carries_credentials(page: Path) -> None:
    for command in _commands(page.read_text()):
        if re.search(r"\bcurl\b.*(/v1/|localhost:8080)", command) and "/v1/" in command:
            assert "Authorization" in command or "X-API-Key" in command, command


def test_the_cluster_steps_name_objects_the_chart_and_manifests_render() -> None:
    block = _walkthrough()
    install = run_helm(
        "template", "chute", str(CHART), "-n", "chute", "-f", str(REPO / "k8s/kind/values.yaml")
    )
    assert install.returncode == 0, install.stderr
    rendered = load_all(install.stdout)
    (service,) = [
        o for o in rendered if o["kind"] == "Service" and o["metadata"]["name"].endswith("-api")
    ]
    cluster = yaml.safe_load((REPO / "k8s/kind/cluster.yaml").read_text())
    mapped = {m["containerPort"] for n in cluster["nodes"] for m in n.get("extraPortMappings", [])}
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"][0]["nodePort"] in mapped
    moto = [o for o in load_all((REPO / "k8s/kind/moto.yaml").read_text())]
    assert "deploy/moto" in block
    assert any(o["kind"] == "Deployment" and o["metadata"]["name"] == "moto" for o in moto)
    secret = re.search(r"create secret generic (\S+)", block)
    assert secret is not None
    deployments = [o for o in rendered if o["kind"] == "Deployment"]
    api_pod = deployments[0]["spec"]["template"]["spec"]
    referenced = {
        ref["secretRef"]["name"]
        for o in deployments
        for c in o["spec"]["template"]["spec"]["containers"]
        for ref in c.get("envFrom", [])
        if "secretRef" in ref
    } | {v["secret"]["secretName"] for v in api_pod.get("volumes", []) if "secret" in v}
    assert secret.group(1) in referenced
    assert "get scaledobject" in block
    assert any(o["kind"] == "ScaledObject" for o in rendered)
