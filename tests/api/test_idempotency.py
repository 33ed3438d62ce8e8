"""Idempotency-Key on uploads: replays answer the first job, different requests are
409, concurrent duplicates make one job, and failed requests free the key. A retried
multipart form (a new boundary each time) is the same request."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.processes import Server
from tests.support.stack import Stack
from tests.support.uploads import all_jobs


@pytest.fixture(scope="module")
def api(module_stack: Stack, module_servers: ServerFactory) -> Server:
    return module_servers("api", module_stack)


def _post(
    api: Server, key: str, body: bytes = b"same bytes", name: str = "a.txt"
) -> httpx.Response:
    return httpx.post(
        f"{api.url}/v1/uploads",
        params={"filename": name},
        content=body,
        headers={"Idempotency-Key": key, "Content-Type": "text/plain"},
        timeout=60,
    )


def _jobs_named(stack: Stack, name: str) -> list[str]:
    return [
        job_id
        for job_id, job in all_jobs(stack).items()
        if job.get("object", {}).get("filename") == name
    ]


def test_same_key_and_request_replay_the_first_answer(api: Server, module_stack: Stack) -> None:
    key, name = str(uuid.uuid4()), f"replay-{uuid.uuid4().hex[:8]}.txt"
    first = _post(api, key, name=name)
    second = _post(api, key, name=name)
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["location"] == first.headers["location"]
    assert _jobs_named(module_stack, name) == [first.json()["job_id"]]


def test_same_key_with_other_parameters_is_409(api: Server) -> None:
    key = str(uuid.uuid4())
    assert _post(api, key, name="one.txt").status_code == 202
    r = _post(api, key, name="two.txt")
    assert r.status_code == 409
    assert r.json()["type"] == "urn:chute:problem:idempotency-conflict"


def test_same_key_with_another_body_of_the_same_length_is_409(api: Server) -> None:
    key = str(uuid.uuid4())
    assert _post(api, key, body=b"aaaa").status_code == 202
    r = _post(api, key, body=b"bbbb")
    assert r.status_code == 409
    assert "different file" in r.json()["detail"]


def test_twenty_concurrent_requests_with_one_key_make_one_job(
    api: Server, module_stack: Stack
) -> None:
    key, name = str(uuid.uuid4()), f"race-{uuid.uuid4().hex[:8]}.txt"
    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(lambda _: _post(api, key, name=name), range(20)))
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["job_id"] for r in responses}) == 1
    assert len(_jobs_named(module_stack, name)) == 1


def test_a_failed_request_frees_its_key(api: Server) -> None:
    key = str(uuid.uuid4())
    assert _post(api, key, body=b"").status_code == 400
    # Were the key still held, this other request would be a 409.
    r = _post(api, key, body=b"now with content")
    assert r.status_code == 202, r.text


def test_an_expired_key_starts_a_new_job(api: Server, module_stack: Stack) -> None:
    key = str(uuid.uuid4())
    first = _post(api, key).json()["job_id"]
    table = module_stack.pipeline.table
    dynamodb = module_stack.client("dynamodb")
    (record,) = [
        item
        for item in dynamodb.scan(TableName=table)["Items"]
        if item["job_id"]["S"].startswith("idem#default#")
        and item.get("response_body", {}).get("S", "").find(first) >= 0
    ]
    dynamodb.update_item(  # what 24 hours do (DynamoDB's TTL deletes it later still)
        TableName=table,
        Key={"job_id": record["job_id"]},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    again = _post(api, key)
    assert again.status_code == 202
    assert again.json()["job_id"] != first


def test_idempotency_records_are_not_jobs(api: Server) -> None:
    r = httpx.get(f"{api.url}/v1/jobs/idem%23default%23abc")
    assert r.status_code == 404
    listed = httpx.get(f"{api.url}/v1/jobs", params={"limit": "100"}).json()["jobs"]
    assert all(not j["job_id"].startswith("idem#") for j in listed)


def test_presign_with_one_key_creates_one_job_and_another_request_is_409(api: Server) -> None:
    key = str(uuid.uuid4())
    request = {"filename": "p.bin", "content_type": "application/octet-stream", "size": 100}

    def presign(body: dict[str, object]) -> httpx.Response:
        return httpx.post(
            f"{api.url}/v1/uploads/presign", json=body, headers={"Idempotency-Key": key}
        )

    first, second = presign(request), presign(request)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert presign({**request, "size": 101}).status_code == 409


def _post_form(api: Server, key: str, body: bytes, name: str) -> httpx.Response:
    # httpx draws a new multipart boundary for every request, as browsers and curl do.
    return httpx.post(
        f"{api.url}/v1/uploads",
        files={"file": (name, body, "text/plain")},
        headers={"Idempotency-Key": key},
        timeout=60,
    )


def test_a_retried_multipart_form_replays_the_first_job(api: Server, module_stack: Stack) -> None:
    key, name = str(uuid.uuid4()), f"form-{uuid.uuid4().hex[:8]}.txt"
    first = _post_form(api, key, b"the same file", name)
    second = _post_form(api, key, b"the same file", name)
    assert first.request.headers["content-type"] != second.request.headers["content-type"]
    assert first.status_code == second.status_code == 202, second.text
    assert second.json()["job_id"] == first.json()["job_id"]
    assert second.headers["idempotent-replayed"] == "true"
    assert _jobs_named(module_stack, name) == [first.json()["job_id"]]


def test_a_multipart_form_with_another_file_under_the_same_key_is_409(api: Server) -> None:
    key = str(uuid.uuid4())
    assert _post_form(api, key, b"first file", "f.txt").status_code == 202
    r = _post_form(api, key, b"other file", "f.txt")
    assert r.status_code == 409
    assert r.json()["type"] == "urn:chute:problem:idempotency-conflict"


def test_a_multipart_form_with_another_file_name_under_the_same_key_is_409(api: Server) -> None:
    key = str(uuid.uuid4())
    assert _post_form(api, key, b"same bytes", "one.txt").status_code == 202
    assert _post_form(api, key, b"same bytes", "two.txt").status_code == 409
