"""`chute iam` renders each permission policy of iam/ for the configured pools: every
pool's queue and DLQ, nothing more, no placeholder left."""

from __future__ import annotations

import json
import re

import pytest

from chute_core.settings import PipelineSettings
from chute_ops.iam import render_policy
from tests.support.processes import REPO, run_chute

POLICIES = ["api", "worker", "reconciler", "keda"]
POOLED = PipelineSettings(
    pools={"images": {"queue": "chute-images"}, "bulk": {"queue": "chute-bulk"}}
)
ARN = "arn:aws:sqs:eu-west-1:123456789012:"


def _template(name: str) -> dict[str, object]:
    doc: dict[str, object] = json.loads((REPO / f"iam/{name}-policy.json").read_text())
    return doc


def _queue_resources(policy: dict[str, object]) -> list[set[str]]:
    found = []
    for statement in policy["Statement"]:  # type: ignore[attr-defined]
        resources = statement["Resource"]
        resources = {resources} if isinstance(resources, str) else set(resources)
        if any(r.startswith("arn:aws:sqs:") for r in resources):
            found.append(resources)
    return found


@pytest.mark.parametrize("name", POLICIES)
def test_every_queue_statement_names_each_pools_queue_or_each_pools_dlq(name: str) -> None:
    rendered = render_policy(_template(name), POOLED, region="eu-west-1", account="123456789012")
    queues = {ARN + q for q in ("chute-jobs", "chute-images", "chute-bulk")}
    dlqs = {a + "-dlq" for a in queues}
    statements = _queue_resources(rendered)
    assert statements
    assert all(resources in (queues, dlqs) for resources in statements), statements
    assert not re.search(r"\b(BUCKET|REGION|ACCOUNT_ID|TABLE|QUEUE)\b", json.dumps(rendered))


def test_without_pools_each_queue_statement_keeps_one_resource() -> None:
    rendered = render_policy(
        _template("worker"), PipelineSettings(), region="eu-west-1", account="123456789012"
    )
    assert _queue_resources(rendered) == [{ARN + "chute-jobs"}, {ARN + "chute-jobs-dlq"}]


def test_a_bad_account_is_one_line_and_a_non_zero_exit() -> None:
    refused = run_chute("iam", "iam/worker-policy.json", "--account", "12", env={})
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines() == [
        "chute: error: iam/worker-policy.json: account '12' is not a 12-digit AWS account id"
    ]
