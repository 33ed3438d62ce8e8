"""`chute iam`: an IAM policy document of iam/ with its placeholders filled from the
settings, and each queue resource given once per pool: the policies then cover every
pool's queue and DLQ (CHUTE_POOLS) and nothing more."""

from __future__ import annotations

import re
from typing import Any

from chute_core.settings import PipelineSettings

__all__ = ["render_policy"]

_PLACEHOLDER = re.compile(r"\b(BUCKET|REGION|ACCOUNT_ID|TABLE)\b")
_ACCOUNT = re.compile(r"^[0-9]{12}$")


def _resources(resource: str, pipeline: PipelineSettings) -> list[str]:
    pools = list(pipeline.pool_set())
    if resource.endswith(":QUEUE-dlq"):
        return [resource.removesuffix("QUEUE-dlq") + pool.dlq for pool in pools]
    if resource.endswith(":QUEUE"):
        return [resource.removesuffix("QUEUE") + pool.queue for pool in pools]
    return [resource]


def render_policy(
    template: dict[str, Any], pipeline: PipelineSettings, *, region: str, account: str
) -> dict[str, Any]:
    """`template` (a policy of iam/) for this pipeline; ValueError for a bad account."""
    if not _ACCOUNT.match(account):
        raise ValueError(f"account {account!r} is not a 12-digit AWS account id")
    values = {"BUCKET": pipeline.bucket, "REGION": region, "ACCOUNT_ID": account}
    values["TABLE"] = pipeline.table

    def fill(text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)

    statements = []
    for statement in template["Statement"]:
        given = statement["Resource"]
        listed = [given] if isinstance(given, str) else given
        resources = [fill(r) for item in listed for r in _resources(item, pipeline)]
        statements.append(
            {**statement, "Resource": resources[0] if len(resources) == 1 else resources}
        )
    return {**template, "Statement": statements}
