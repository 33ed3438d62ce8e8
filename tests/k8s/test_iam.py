"""The IAM policies allow exactly what the code does: every AWS operation the API,
the worker and the reconciler sent in a recorded run (read from their own chute_aws_requests_total
counters) maps to an allowed action, and every allowed action was needed."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerFactory, StackFactory
from tests.faults.conftest import recording_env
from tests.support.accounting import dlq_depth
from tests.support.polling import wait_until
from tests.support.processes import REPO
from tests.support.uploads import upload, wait_terminal

MiB = 1024 * 1024
POLICIES = REPO / "iam"
# botocore operation -> the IAM action that authorises it.
ACTIONS = {
    ("s3", "PutObject"): "s3:PutObject",
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    ("s3", "AbortMultipartUpload"): "s3:AbortMultipartUpload",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "GetObject"): "s3:GetObject",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "DeleteObject"): "s3:DeleteObject",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListParts"): "s3:ListMultipartUploadParts",
    ("s3", "ListMultipartUploads"): "s3:ListBucketMultipartUploads",
    ("sqs", "GetQueueUrl"): "sqs:GetQueueUrl",
    ("sqs", "GetQueueAttributes"): "sqs:GetQueueAttributes",
    ("sqs", "ReceiveMessage"): "sqs:ReceiveMessage",
    ("sqs", "DeleteMessage"): "sqs:DeleteMessage",
    ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
    ("sqs", "ChangeMessageVisibility"): "sqs:ChangeMessageVisibility",
    ("sqs", "ChangeMessageVisibilityBatch"): "sqs:ChangeMessageVisibility",
    ("sqs", "SendMessage"): "sqs:SendMessage",
    ("dynamodb", "DescribeTable"): "dynamodb:DescribeTable",
    ("dynamodb", "GetItem"): "dynamodb:GetItem",
    ("dynamodb", "PutItem"): "dynamodb:PutItem",
    ("dynamodb", "UpdateItem"): "dynamodb:UpdateItem",
    ("dynamodb", "DeleteItem"): "dynamodb:DeleteItem",
    ("dynamodb", "Query"): "dynamodb:Query",
}
SAMPLE = re.compile(r'^chute_aws_requests_total\{operation="(\w+)",service="([\w-]+)"\} (\S+)$')


def policy(name: str) -> dict[str, object]:
    doc: dict[str, object] = json.loads((POLICIES / f"{name}-policy.json").read_text())
    return doc


def allowed(name: str) -> set[str]:
    statements = policy(name)["Statement"]
    assert isinstance(statements, list)
    return {a for s in statements for a in s["Action"]}


def recorded(url: str) -> set[tuple[str, str]]:
    ops = set()
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if (m := SAMPLE.match(line)) and float(m.group(3)) > 0:
            ops.add((m.group(2), m.group(1)))
    return ops


@pytest.mark.parametrize("name", ["api", "worker", "reconciler", "keda", "keda-assume-role"])
def test_policies_name_no_wildcards(name: str) -> None:
    for statement in policy(name)["Statement"]:  # type: ignore[union-attr]
        assert statement["Effect"] == "Allow"
        assert all("*" not in a for a in statement["Action"])
        resources = statement["Resource"]
        for resource in [resources] if isinstance(resources, str) else resources:
            assert resource.startswith("arn:aws:")
            assert resource.rstrip("/*").count("*") == 0, resource


def test_keda_policy_only_reads_queue_attributes() -> None:
    assert allowed("keda") == {"sqs:GetQueueAttributes"}


@pytest.mark.slow
def test_every_operation_of_a_recorded_run_is_allowed_and_nothing_more(
    make_stack: StackFactory, servers: ServerFactory, tmp_path: Path
) -> None:
    stack = make_stack(visibility_timeout_seconds=3)
    due_at_once = {"CHUTE_OVERDUE_GRACE_SECONDS": "0"}  # expiries are overdue when they pass
    api = servers(
        "api",
        stack,
        **due_at_once,
        CHUTE_STUCK_AFTER_SECONDS="2",  # a queued job whose event is lost, soon overdue
        CHUTE_MAX_UPLOAD_BYTES=str(12 * MiB),
        CHUTE_UPLOAD_PART_BYTES=str(5 * MiB),
        CHUTE_PRESIGN_SECONDS="2",
        CHUTE_PRESIGN_POST_MAX_BYTES=str(MiB),
        CHUTE_PRESIGN_PART_BYTES=str(5 * MiB),
        CHUTE_TUS_EXPIRE_SECONDS="2",
    )
    # Before any worker runs: cancel a queued job, retry with an Idempotency-Key (and
    # free one after a failed request), list jobs.
    cancelled = upload(api.url, "cancel.bin")
    assert httpx.delete(f"{api.url}/v1/jobs/{cancelled}").status_code == 200
    for body, key in ((b"once", "k1"), (b"once", "k1")):
        httpx.post(f"{api.url}/v1/uploads", content=body, headers={"Idempotency-Key": key})
    # A digest that does not match fails after the key is reserved, which frees it.
    wrong = {"Idempotency-Key": "k2", "X-Content-SHA256": "0" * 64}
    assert httpx.post(f"{api.url}/v1/uploads", content=b"x", headers=wrong).status_code == 400
    assert httpx.get(f"{api.url}/v1/jobs").status_code == 200
    # Presigned uploads: a POST with more bytes than declared (the worker deletes it)
    # and a multipart upload never completed (the worker expires it and aborts it).
    direct = {"filename": "d.bin", "content_type": "application/octet-stream"}
    post = httpx.post(f"{api.url}/v1/uploads/presign", json={**direct, "size": 10}).json()
    httpx.post(post["post"]["url"], data=post["post"]["fields"], files={"file": b"x" * 20})
    unfinished = httpx.post(
        f"{api.url}/v1/uploads/presign", json={**direct, "size": 6 * MiB}
    ).json()
    # tus: one upload completed from a tail and a part, one left to expire with both.
    finished, expiring = _tus(api.url, 7 * MiB), _tus(api.url, 8 * MiB)
    _patch(finished, 0, os.urandom(3 * MiB))
    _patch(finished, 3 * MiB, os.urandom(4 * MiB))
    _patch(expiring, 0, os.urandom(6 * MiB))
    worker = servers(
        "worker",
        stack,
        **due_at_once,
        **recording_env(tmp_path / "runs.jsonl", CHUTE_TEST_SLEEP_SECONDS="2"),
    )
    # The reconciler expires the unfinished uploads (aborting their parts, deleting the
    # tus tail), peeks at the DLQ, and re-sends the event lost below.
    reconciler = servers("reconciler", stack, **due_at_once)
    # Every path: small and multipart uploads, an upload aborted mid-stream, status,
    # readiness, a heartbeat (2 s job, 3 s visibility) and a poison message.
    jobs = [upload(api.url, "small.bin"), upload(api.url, "big.bin", os.urandom(11 * MiB))]
    too_big = httpx.post(
        f"{api.url}/v1/uploads", content=(os.urandom(MiB) for _ in range(13)), timeout=60
    )
    assert too_big.status_code == 413
    assert httpx.get(f"{api.url}/readyz").status_code == 200
    assert httpx.get(f"{api.url}/v1/jobs/{jobs[0]}").status_code == 200
    stack.client("sqs").send_message(QueueUrl=stack.queue_url(), MessageBody="poison")
    tus_jobs = [location.rsplit("/", 1)[1] for location in (finished, expiring)]
    wait_terminal(stack, [*jobs, post["job_id"], unfinished["job_id"], *tus_jobs], timeout=60)
    wait_until(lambda: dlq_depth(stack) == 1, timeout=30, what="poison dead-lettered")
    # A presigned result URL is signed by the API and used by the client: the download
    # is the API's s3:GetObject on results/.
    (result,) = httpx.get(f"{api.url}/v1/jobs/{jobs[0]}/result").json()["objects"]
    assert httpx.get(result["url"]).status_code == 200
    stack.client("s3").put_bucket_notification_configuration(
        Bucket=stack.pipeline.bucket, NotificationConfiguration={}
    )
    lost = upload(api.url, "lost.bin")  # no event: the reconciler re-sends it
    assert wait_terminal(stack, [lost], timeout=60)[lost]["state"] == "SUCCEEDED"
    for name, server in (("api", api), ("worker", worker), ("reconciler", reconciler)):
        ops = recorded(server.url)
        unmapped = ops - ACTIONS.keys()
        assert not unmapped, f"{name} calls operations with no known IAM action: {unmapped}"
        needed = {ACTIONS[op] for op in ops} | ({"s3:GetObject"} if name == "api" else set())
        assert needed == allowed(name), (
            f"{name}: missing {needed - allowed(name)}, unused {allowed(name) - needed}"
        )


TUS = {"Tus-Resumable": "1.0.0"}


def _tus(api_url: str, length: int) -> str:
    created = httpx.post(f"{api_url}/v1/tus/", headers={**TUS, "Upload-Length": str(length)})
    assert created.status_code == 201, created.text
    return created.headers["location"]


def _patch(location: str, offset: int, data: bytes) -> None:
    headers = {
        **TUS,
        "Content-Type": "application/offset+octet-stream",
        "Upload-Offset": str(offset),
    }
    r = httpx.patch(location, content=data, headers=headers, timeout=30)
    assert r.status_code == 204, r.text


def test_keda_may_only_assume_the_worker_role() -> None:
    statements = policy("keda-assume-role")["Statement"]
    assert isinstance(statements, list)
    assert allowed("keda-assume-role") == {"sts:AssumeRole"}
    assert [s["Resource"] for s in statements] == ["arn:aws:iam::ACCOUNT_ID:role/WORKER_ROLE"]


def test_the_worker_role_trusts_its_service_account_and_the_keda_operator_only() -> None:
    doc = json.loads((POLICIES / "worker-trust-policy.json").read_text())
    principals = {json.dumps(s["Principal"], sort_keys=True): s for s in doc["Statement"]}
    assert len(principals) == 2
    irsa, keda = doc["Statement"]
    assert irsa["Action"] == "sts:AssumeRoleWithWebIdentity"
    conditions = irsa["Condition"]["StringEquals"]
    assert conditions["OIDC_PROVIDER:sub"] == (
        "system:serviceaccount:NAMESPACE:WORKER_SERVICE_ACCOUNT"
    )
    assert keda["Principal"] == {"AWS": "arn:aws:iam::ACCOUNT_ID:role/KEDA_OPERATOR_ROLE"}
    assert keda["Action"] == "sts:AssumeRole"
