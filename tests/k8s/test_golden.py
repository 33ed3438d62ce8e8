"""What every existing scenario renders is recorded: a change that adds a capability
(pools, subscribers) must leave existing deployments' manifests exactly as they were.
After an intended change, regenerate with `python -m tests.k8s.golden_update`."""

from __future__ import annotations

import difflib

import pytest

from tests.k8s.chart import template_text
from tests.k8s.golden_update import GOLDEN, RECORDED


@pytest.mark.parametrize("scenario", sorted(RECORDED))
def test_a_recorded_scenario_renders_exactly_what_it_rendered_before(scenario: str) -> None:
    expected = (GOLDEN / f"{scenario}.yaml").read_text()
    actual = template_text(*RECORDED[scenario])
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            f"golden/{scenario}.yaml",
            "rendered",
            n=2,
        )
    )
    assert not diff, diff[:4000]
