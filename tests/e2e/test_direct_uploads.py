"""Direct-to-S3 uploads: a presigned POST and a 3-part presigned multipart upload reach
SUCCEEDED through the worker; a body larger than declared fails as size_mismatch;
an upload that never comes expires and its multipart upload is aborted."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import ServerFactory, StackFactory
from tests.support.jobs_api import get_job, wait_job
from tests.support.polling import wait_until
from tests.support.processes import Server, routes
from tests.support.stack import Stack

MiB = 1024 * 1024


@dataclass
class Direct:
    stack: Stack
    api: Server


@pytest.fixture
def direct(make_stack: StackFactory, servers: ServerFactory) -> Direct:
    stack = make_stack()
    api = servers(
        "api",
        stack,
        CHUTE_PRESIGN_POST_MAX_BYTES=str(MiB),
        CHUTE_PRESIGN_PART_BYTES=str(5 * MiB),
        CHUTE_PRESIGN_SECONDS="3",
        CHUTE_OVERDUE_GRACE_SECONDS="0",  # due the moment the presigned requests expire
    )
    servers("worker", stack, CHUTE_WORKER_ROUTES=routes("inspect"))
    servers("reconciler", stack)
    return Direct(stack, api)


def _presign(api: Server, body: bytes, **extra: object) -> dict[str, object]:
    request = {
        "filename": "direct.bin",
        "content_type": "application/octet-stream",
        "size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        **extra,
    }
    r = httpx.post(f"{api.url}/v1/uploads/presign", json=request)
    assert r.status_code == 201, r.text
    answer: dict[str, object] = r.json()
    return answer


def _post_form(plan: dict[str, object], body: bytes) -> httpx.Response:
    post = plan["post"]
    assert isinstance(post, dict)
    return httpx.post(post["url"], data=post["fields"], files={"file": ("f", body)}, timeout=60)


def test_presigned_post_upload_reaches_succeeded_and_its_policy_binds_size_key_and_type(
    direct: Direct,
) -> None:
    body = os.urandom(200_000)
    plan = _presign(direct.api, body)
    assert plan["method"] == "POST"
    assert plan["state"] == "AWAITING_UPLOAD"
    fields = plan["post"]["fields"]  # type: ignore[index]
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", len(body), len(body)] in conditions
    key = f"incoming/default/{plan['job_id']}"
    assert {"key": key} in conditions
    assert {"Content-Type": "application/octet-stream"} in conditions
    assert {
        "x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(body).digest()).decode()
    } in conditions
    assert _post_form(plan, body).status_code in (200, 201, 204)
    job = wait_job(direct.api.url, str(plan["job_id"]))
    assert job["state"] == "SUCCEEDED", job
    assert job["sha256"] == hashlib.sha256(body).hexdigest()


def test_object_larger_than_declared_fails_as_size_mismatch_and_is_deleted(
    direct: Direct,
) -> None:
    declared = os.urandom(1000)
    plan = _presign(direct.api, declared)
    # moto does not enforce POST policies (S3 would refuse this with 400).
    fields = dict(plan["post"]["fields"])  # type: ignore[index]
    fields.pop("x-amz-checksum-sha256", None)
    fields.pop("x-amz-checksum-algorithm", None)
    plan["post"] = {**plan["post"], "fields": fields}  # type: ignore[dict-item]
    assert _post_form(plan, declared + b"more bytes").status_code in (200, 201, 204)
    job = wait_job(direct.api.url, str(plan["job_id"]))
    assert job["state"] == "FAILED"
    assert job["error"]["code"] == "size_mismatch"
    assert direct.stack.keys(f"incoming/default/{plan['job_id']}") == []


def test_presigned_three_part_multipart_upload_reaches_succeeded(direct: Direct) -> None:
    body = os.urandom(12 * MiB)
    plan = _presign(direct.api, body)
    assert plan["method"] == "PUT"
    parts = plan["parts"]
    assert isinstance(parts, list)
    assert len(parts) == 3
    size = int(plan["part_size"])  # type: ignore[arg-type]
    etags = []
    for part in parts:
        n = part["part_number"]
        chunk = body[(n - 1) * size : n * size]
        r = httpx.put(part["url"], content=chunk, timeout=60)
        assert r.status_code == 200, r.text
        etags.append({"part_number": n, "etag": r.headers["etag"]})
    done = httpx.post(str(plan["complete_url"]), json={"parts": etags}, timeout=60)
    assert done.status_code == 202, done.text
    job = wait_job(direct.api.url, str(plan["job_id"]))
    assert job["state"] == "SUCCEEDED", job
    assert job["sha256"] == hashlib.sha256(body).hexdigest()


def test_unused_presigned_upload_expires_and_its_parts_are_aborted(direct: Direct) -> None:
    body = os.urandom(6 * MiB)
    plan = _presign(direct.api, body)
    first = plan["parts"][0]  # type: ignore[index]
    assert httpx.put(first["url"], content=body[: 5 * MiB], timeout=60).status_code == 200
    job = wait_job(direct.api.url, str(plan["job_id"]), timeout=60)
    assert job["state"] == "FAILED"
    assert job["error"]["code"] == "upload_expired"
    # The reconciler records the expiry, then aborts the upload.
    wait_until(lambda: direct.stack.multipart_uploads() == [], timeout=10, what="parts aborted")
    assert get_job(direct.api.url, str(plan["job_id"]))["attempts"] == 0
