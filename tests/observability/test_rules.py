"""Alert rules: valid, unit-tested with promtool, each with a runbook section."""

import re
import shutil
import subprocess

import pytest
import yaml

from tests.support.processes import REPO

RULES = REPO / "helm/chute/files/chute-rules.yaml"
RULE_TESTS = REPO / "helm/chute/files/chute-rules.test.yaml"
RUNBOOKS = REPO / "docs/runbooks.md"


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool missing: `make test` installs Debian's prometheus package"
    return path


def alerts() -> list[dict[str, object]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [r for g in groups for r in g["rules"] if "alert" in r]


def test_promtool_check_rules_passes() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_prove_each_alert_fires_and_stays_silent() -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", str(RULE_TESTS)],
        capture_output=True,
        text=True,
        cwd=RULES.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert tested == {str(a["alert"]) for a in alerts()}


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: str(r["alert"]))
def test_alert_has_severity_summary_description_runbook_and_for(rule: dict[str, object]) -> None:
    labels = rule["labels"]
    annotations = rule["annotations"]
    assert isinstance(labels, dict)
    assert isinstance(annotations, dict)
    assert labels["severity"] in ("info", "warning", "critical")
    assert rule.get("for"), "every alert needs a for:"
    assert annotations["summary"]
    assert "{{" in annotations["description"], "description should carry the values"
    anchor = annotations["runbook_url"].split("#", 1)[1]
    sections = re.findall(r"^## (\S+)$", RUNBOOKS.read_text(), flags=re.M)
    assert anchor in sections, f"docs/runbooks.md has no section {anchor}"


def test_runbook_tells_how_to_redrive_the_dlq() -> None:
    assert "chute dlq redrive" in RUNBOOKS.read_text()
