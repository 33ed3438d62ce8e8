"""Bootstrap's CORS rule on the bucket: set from CHUTE_CORS_ORIGINS, drift repaired and
reported, other rules kept, removed when the list empties; and moto (run as the local
AWS) enforces it, so a preflight from any other origin is refused."""

from __future__ import annotations

from typing import Any

import httpx

from chute_ops.bootstrap import bootstrap
from chute_ops.bootstrap_bucket import CORS_RULE_ID
from tests.conftest import StackFactory
from tests.support.stack import Stack

APP = "https://app.example.test"
OTHER_RULE = {
    "ID": "someone-elses",
    "AllowedOrigins": ["https://status.example.test"],
    "AllowedMethods": ["GET"],
}


def _rules(stack: Stack) -> list[dict[str, Any]]:
    s3 = stack.client("s3")
    try:
        rules: list[dict[str, Any]] = s3.get_bucket_cors(Bucket=stack.pipeline.bucket)["CORSRules"]
    except s3.exceptions.ClientError:
        return []
    return rules


def _ours(stack: Stack) -> dict[str, Any]:
    (rule,) = [r for r in _rules(stack) if r.get("ID") == CORS_RULE_ID]
    return rule


def _preflight(stack: Stack, origin: str, method: str) -> httpx.Response:
    url = f"{stack.aws.aws_endpoint_url}/{stack.pipeline.bucket}/incoming/t/j"
    return httpx.options(url, headers={"Origin": origin, "Access-Control-Request-Method": method})


def test_the_rule_allows_what_presigned_uploads_need_and_exposes_etag(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(cors_origins=[APP])
    rule = _ours(stack)
    assert rule["AllowedOrigins"] == [APP]
    assert sorted(rule["AllowedMethods"]) == ["POST", "PUT"]
    assert {"ETag", "Location"} <= set(rule["ExposeHeaders"])


def test_the_local_aws_refuses_a_preflight_from_another_origin(make_stack: StackFactory) -> None:
    stack = make_stack(cors_origins=[APP])
    assert _preflight(stack, APP, "PUT").headers["access-control-allow-origin"] == APP
    refused = _preflight(stack, "https://evil.example.test", "PUT")
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers


def test_drift_is_repaired_and_reported_and_other_rules_are_kept(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(cors_origins=[APP])
    s3 = stack.client("s3")
    drifted = {**_ours(stack), "AllowedOrigins": ["*"]}
    s3.put_bucket_cors(
        Bucket=stack.pipeline.bucket, CORSConfiguration={"CORSRules": [drifted, OTHER_RULE]}
    )
    changes = [str(c) for c in bootstrap(stack.aws, stack.pipeline)]
    assert changes == [f"updated bucket {stack.pipeline.bucket} CORS rule {CORS_RULE_ID}"]
    assert _ours(stack)["AllowedOrigins"] == [APP]
    assert any(r.get("ID") == "someone-elses" for r in _rules(stack))
    assert bootstrap(stack.aws, stack.pipeline) == []


def test_an_empty_origin_list_removes_the_rule(make_stack: StackFactory) -> None:
    stack = make_stack(cors_origins=[APP])
    closed = stack.pipeline.model_copy(update={"cors_origins": []})
    changes = [str(c) for c in bootstrap(stack.aws, closed)]
    assert changes == [f"updated bucket {stack.pipeline.bucket} CORS rule {CORS_RULE_ID}"]
    assert _rules(stack) == []
