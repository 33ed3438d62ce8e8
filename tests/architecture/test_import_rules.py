"""The package rules of docs/architecture.md hold, and the check that `make lint` runs
(lint-imports, contracts in pyproject.toml) fails when one is broken."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import REPO

LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")
PACKAGES = {
    "chute_core": "core",
    "chute_api": "api",
    "chute_worker": "worker",
    "chute_ops": "ops",
}


def _lint(tmp_path: Path, violation: tuple[str, str] | None) -> subprocess.CompletedProcess[str]:
    """lint-imports over a copy of the packages, with `violation` = (package, import line)
    appended to that package's __init__.py."""
    for package, folder in PACKAGES.items():
        shutil.copytree(REPO / "services" / folder / package, tmp_path / package)
    if violation is not None:
        package, line = violation
        with (tmp_path / package / "__init__.py").open("a") as init:
            init.write(f"\n{line}\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run(
        [LINT_IMPORTS, str(REPO / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )


def test_the_tree_keeps_every_import_rule(tmp_path: Path) -> None:
    result = _lint(tmp_path, None)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("package", "line", "rule"),
    [
        ("chute_api", "import chute_worker.decisions", "never import each other"),
        ("chute_worker", "import chute_api.errors", "never import each other"),
        ("chute_core", "import chute_api.errors", "imports no service"),
        ("chute_core", "import chute_ops.bootstrap", "imports no service"),
        ("chute_api", "import chute_ops.bootstrap", "never import the tooling"),
        ("chute_worker", "import chute_ops.loadtest", "never import the tooling"),
    ],
)
def test_a_forbidden_import_fails_the_check(
    tmp_path: Path, package: str, line: str, rule: str
) -> None:
    result = _lint(tmp_path, (package, line))
    assert result.returncode != 0
    assert rule in result.stdout
    assert "BROKEN" in result.stdout
