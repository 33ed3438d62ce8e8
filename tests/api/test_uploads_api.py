import hashlib
import os
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.processes import Server
from tests.support.stack import Stack

MiB = 1024 * 1024
PROBLEM = "application/problem+json"


# One API and one set of resources for the module: each test asserts only on what it
# adds (its job, or that the bucket did not grow), so they stay independent.


@pytest.fixture(scope="module")
def stack(module_stack: Stack) -> Stack:
    return module_stack


@pytest.fixture(scope="module")
def api(module_stack: Stack, module_servers: ServerFactory) -> Server:
    return module_servers(
        "api",
        module_stack,
        # Background polls (queue gauges, the AWS check) run at start-up, then not again
        # during these tests: the request counts below are the uploads' alone.
        CHUTE_QUEUE_POLL_SECONDS="300",
        CHUTE_MAX_UPLOAD_BYTES=str(12 * MiB),
        CHUTE_UPLOAD_PART_BYTES=str(5 * MiB),
    )


def chunks(total: int, size: int = 256 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        yield os.urandom(n)
        sent += n


def scan_jobs(stack: Stack) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = stack.client("dynamodb").scan(TableName=stack.pipeline.table)[
        "Items"
    ]
    return items


def stored(stack: Stack, key: str) -> tuple[bytes, dict[str, str]]:
    obj = stack.client("s3").get_object(Bucket=stack.pipeline.bucket, Key=key)
    return obj["Body"].read(), obj["Metadata"]


def test_raw_upload_is_accepted_queued_and_stored_under_the_tenant(
    api: Server, stack: Stack
) -> None:
    body = b"hello, chute"
    r = httpx.post(
        f"{api.url}/v1/uploads",
        params={"filename": "hello.txt"},
        content=body,
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["state"] == "QUEUED"
    assert r.headers["Location"] == accepted["status_url"]
    job = httpx.get(accepted["status_url"]).json()
    assert job["object"]["key"] == f"incoming/default/{accepted['job_id']}"
    assert job["object"]["filename"] == "hello.txt"
    assert job["object"]["size"] == len(body)
    assert job["sha256"] == hashlib.sha256(body).hexdigest()
    data, metadata = stored(stack, job["object"]["key"])
    assert data == body
    assert metadata == {"job-id": accepted["job_id"], "tenant": "default"}


def test_multipart_form_upload_streams_a_file_larger_than_a_part(api: Server, stack: Stack) -> None:
    body = os.urandom(11 * MiB + 123)
    r = httpx.post(
        f"{api.url}/v1/uploads",
        files={"file": ("photo.bin", body, "application/x-custom")},
        data={"note": "ignored"},
    )
    assert r.status_code == 202, r.text
    job = httpx.get(r.json()["status_url"]).json()
    assert job["object"]["filename"] == "photo.bin"
    assert job["object"]["content_type"] == "application/x-custom"
    assert job["object"]["etag"].endswith("-3")  # three parts: it was a multipart upload
    assert stored(stack, job["object"]["key"])[0] == body
    assert job["sha256"] == hashlib.sha256(body).hexdigest()


def test_declared_oversize_upload_is_413_and_leaves_nothing(api: Server, stack: Stack) -> None:
    before = stack.keys()
    r = httpx.post(
        f"{api.url}/v1/uploads",
        content=b"x" * (12 * MiB + 1),
    )
    assert r.status_code == 413
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == "urn:chute:problem:upload-too-large"
    assert stack.keys() == before
    assert stack.multipart_uploads() == []


def test_streamed_oversize_upload_is_413_aborts_multipart_and_fails_the_job(
    api: Server, stack: Stack
) -> None:
    # Chunked: no Content-Length, so the limit is only found after a part has been sent.
    before = stack.keys()
    jobs_before = {i["job_id"]["S"] for i in scan_jobs(stack)}
    r = httpx.post(f"{api.url}/v1/uploads", content=chunks(12 * MiB + 1))
    assert r.status_code == 413, r.text
    assert r.json()["status"] == 413
    assert stack.keys() == before
    assert stack.multipart_uploads() == []
    (item,) = [i for i in scan_jobs(stack) if i["job_id"]["S"] not in jobs_before]
    assert item["state"]["S"] == "FAILED"
    assert item["error"]["M"]["code"]["S"] == "upload-too-large"


def test_empty_body_is_400_problem(api: Server, stack: Stack) -> None:
    before = stack.keys()
    r = httpx.post(f"{api.url}/v1/uploads", content=b"")
    assert r.status_code == 400
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == "urn:chute:problem:empty-upload"
    assert stack.keys() == before


def test_form_without_file_field_is_400_problem(api: Server, stack: Stack) -> None:
    before = stack.keys()
    r = httpx.post(f"{api.url}/v1/uploads", files={"other": ("a.txt", b"abc", "text/plain")})
    assert r.status_code == 400
    assert r.json()["type"] == "urn:chute:problem:malformed-upload"
    assert stack.keys() == before


def test_unknown_job_is_404_problem(api: Server) -> None:
    r = httpx.get(f"{api.url}/v1/jobs/01a2258f-53ba-7070-b7a7-2ec5c31921d5")
    assert r.status_code == 404
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == "urn:chute:problem:not-found"


def test_invalid_query_parameter_is_400_problem(api: Server) -> None:
    r = httpx.post(f"{api.url}/v1/uploads", params={"filename": "x" * 300}, content=b"abc")
    assert r.status_code == 400
    assert r.json()["type"] == "urn:chute:problem:malformed-request"


def test_health_and_readiness_answer(api: Server) -> None:
    assert httpx.get(f"{api.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{api.url}/readyz").json()
    assert ready == {
        "ready": True,
        "checks": {"s3": "ok", "dynamodb": "ok", "upload_budget": "ok"},
        "fail_fast": [],
    }


def aws_requests(api: Server) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in httpx.get(f"{api.url}/metrics").text.splitlines():
        if m := re.match(
            r'^chute_aws_requests_total\{operation="(\w+)",service="[\w-]+"\} (\S+)$', line
        ):
            counts[m.group(1)] = int(float(m.group(2)))
    return counts


def test_small_upload_costs_one_record_write_and_one_put(api: Server) -> None:
    before = aws_requests(api)
    r = httpx.post(f"{api.url}/v1/uploads", content=b"x" * 65536)
    assert r.status_code == 202
    assert r.json()["state"] == "QUEUED"
    spent = aws_requests(api) - before
    assert spent == Counter({"PutItem": 1, "PutObject": 1})


def test_empty_chunked_body_is_refused_before_any_aws_request(api: Server) -> None:
    before = aws_requests(api)
    assert httpx.post(f"{api.url}/v1/uploads", content=iter([b""])).status_code == 400
    assert aws_requests(api) - before == Counter()
