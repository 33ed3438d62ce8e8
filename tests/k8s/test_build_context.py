"""Each image builds from what its Dockerfile copies, without a container engine: the
build stage's context is rebuilt from its COPY instructions in an empty folder, its
`uv sync` runs there with the pinned uv, and the final entrypoint answers --help."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import REPO

DOCKERFILES = {"api": REPO / "Dockerfile.api", "worker": REPO / "Dockerfile.worker"}
pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class BuildStage:
    uv_version: str
    workdir: str
    copies: list[tuple[list[str], str]]  # (sources in the context, destination)
    env: dict[str, str]
    install: str
    entrypoint: list[str]


def _parse(text: str) -> BuildStage:
    (uv_version,) = re.findall(r"^FROM ghcr\.io/astral-sh/uv:(\S+) AS uv$", text, re.M)
    build = text.split(" AS build\n", 1)[1].split("\nFROM ", 1)[0]
    (workdir,) = re.findall(r"^WORKDIR (\S+)$", build, re.M)
    copies = []
    for line in re.findall(r"^COPY (?!--from)(.+)$", build, re.M):
        *sources, destination = shlex.split(line)
        copies.append((sources, destination))
    env: dict[str, str] = {}
    for block in re.findall(r"^ENV ((?:.*\\\n)*.*)$", build, re.M):
        for pair in shlex.split(block.replace("\\\n", " ")):
            name, _, value = pair.partition("=")
            env[name] = value
    (install,) = re.findall(r"^RUN (uv sync .+)$", build, re.M)
    (entrypoint,) = re.findall(r"^ENTRYPOINT (\[.*\])$", text, re.M)
    return BuildStage(uv_version, workdir, copies, env, install, _json_list(entrypoint))


def _json_list(text: str) -> list[str]:
    return [part.strip().strip('"') for part in text.strip("[]").split(",")]


def _uv() -> str:
    found = shutil.which("uv") or str(REPO / ".tools/bin/uv")
    assert Path(found).exists(), "uv missing: make bootstraps it into .tools/"
    return found


def _context(stage: BuildStage, into: Path) -> None:
    """The build stage's files, as its COPY instructions place them under WORKDIR."""
    for sources, destination in stage.copies:
        target = into / destination.lstrip("./")
        for source in sources:
            path = REPO / source
            assert path.exists(), f"COPY {source}: not in the repository"
            if path.is_dir():
                shutil.copytree(
                    path, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target / path.name)


def _build(text: str, into: Path) -> tuple[subprocess.CompletedProcess[str], BuildStage, Path]:
    stage = _parse(text)
    context = into / "src"
    context.mkdir()
    _context(stage, context)
    venv = into / "venv"
    env = {
        **os.environ,
        **stage.env,
        "UV_PROJECT_ENVIRONMENT": str(venv),  # the image's /app/.venv, here
        "UV_PYTHON": sys.executable,
        "UV_COMPILE_BYTECODE": "0",  # not needed to prove it installs
    }
    env.pop("VIRTUAL_ENV", None)
    command = [_uv(), *shlex.split(stage.install)[1:]]
    result = subprocess.run(command, cwd=context, env=env, capture_output=True, text=True)
    return result, stage, venv


@pytest.mark.parametrize("service", DOCKERFILES)
def test_the_image_installs_from_its_copied_context_and_its_entrypoint_runs(
    service: str, tmp_path: Path
) -> None:
    result, stage, venv = _build(DOCKERFILES[service].read_text(), tmp_path)
    assert result.returncode == 0, result.stderr
    version = subprocess.run([_uv(), "--version"], capture_output=True, text=True).stdout
    assert version.split()[1] == stage.uv_version, "the Makefile's uv is not the image's"
    script, *args = stage.entrypoint
    local = str(venv / Path(script).relative_to("/app/.venv"))
    ran = subprocess.run([local, *args, "--help"], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr


def test_a_context_without_a_workspace_member_fails_to_install(tmp_path: Path) -> None:
    text = DOCKERFILES["api"].read_text()
    without_examples = re.sub(r"^COPY examples/ examples/\n", "", text, flags=re.M)
    assert without_examples != text
    result, _, _ = _build(without_examples, tmp_path)
    assert result.returncode != 0
    assert "--locked" in result.stderr or "lockfile" in result.stderr.lower()
