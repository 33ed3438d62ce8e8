"""The Companion-style signing routes at /v1/s3 over HTTP, as @uppy/aws-s3 calls them:
each upload is a job of the caller's tenant, limits apply before anything is signed, and
another tenant's upload is 404. The bytes go to moto with the presigned requests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.keyed import keyed_api
from tests.support.processes import Server
from tests.support.stack import Stack

MiB = 1024 * 1024
LIMIT = 12 * MiB
ALLOWED_ORIGIN = "http://app.example.test"


@dataclass
class Api:
    stack: Stack
    server: Server
    key_a: str
    key_b: str

    def call(self, method: str, path: str, *, key: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.key_a}", **kw.pop("headers", {})}
        return httpx.request(method, f"{self.server.url}/v1/s3{path}", headers=headers, **kw)


@pytest.fixture(scope="module")
def api(
    module_stack: Stack, module_servers: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Api:
    keyed = keyed_api(
        module_servers,
        module_stack,
        tmp_path_factory.mktemp("companion"),
        ["tenant-a", "tenant-b"],
        CHUTE_MAX_UPLOAD_BYTES=str(LIMIT),
        CHUTE_CORS_ORIGINS=ALLOWED_ORIGIN,
    )
    return Api(module_stack, keyed.server, keyed.keys["tenant-a"], keyed.keys["tenant-b"])


def _create(api: Api, **metadata: Any) -> dict[str, Any]:
    body = {"filename": "big.bin", "type": "application/octet-stream", "metadata": metadata}
    r = api.call("POST", "/multipart", json=body)
    assert r.status_code == 200, r.text
    created: dict[str, Any] = r.json()
    return created


def _put_part(api: Api, created: dict[str, Any], number: int, data: bytes) -> str:
    path = f"/multipart/{created['uploadId']}/{number}"
    signed = api.call("GET", path, params={"key": created["key"]})
    assert signed.status_code == 200, signed.text
    put = httpx.put(signed.json()["url"], content=data)
    assert put.status_code == 200, put.text
    return put.headers["etag"]


def test_params_creates_an_awaiting_job_and_a_post_form_for_its_key(api: Api) -> None:
    r = api.call(
        "GET", "/params", params={"filename": "a.png", "type": "image/png", "metadata[size]": "68"}
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    job_id = answer["job_id"]
    assert r.headers["chute-job-id"] == job_id
    assert answer["method"] == "POST"
    assert answer["url"].endswith("/")
    assert answer["fields"]["key"] == f"incoming/tenant-a/{job_id}"
    job = api.stack.job(job_id)
    assert job is not None
    assert job["state"] == "AWAITING_UPLOAD"
    assert job["direct_upload"]["declared_size"] == 68


def test_a_multipart_upload_signs_lists_and_completes_into_the_jobs_key(api: Api) -> None:
    created = _create(api)
    first = b"a" * (5 * MiB)
    etags = [_put_part(api, created, 1, first), _put_part(api, created, 2, b"tail")]
    listed = api.call("GET", f"/multipart/{created['uploadId']}", params={"key": created["key"]})
    assert [(p["PartNumber"], p["Size"]) for p in listed.json()] == [(1, 5 * MiB), (2, 4)]
    assert listed.headers["chute-job-id"] == created["job_id"]
    parts = [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]
    done = api.call(
        "POST",
        f"/multipart/{created['uploadId']}/complete",
        params={"key": created["key"]},
        json={"parts": parts},
    )
    assert done.status_code == 200, done.text
    assert done.json()["job_id"] == created["job_id"]
    head = api.stack.client("s3").head_object(Bucket=api.stack.pipeline.bucket, Key=created["key"])
    assert head["ContentLength"] == 5 * MiB + 4


def test_batch_signing_answers_one_url_per_part(api: Api) -> None:
    created = _create(api)
    r = api.call(
        "GET",
        f"/multipart/{created['uploadId']}/batch",
        params={"key": created["key"], "partNumbers": "1,2,3"},
    )
    assert r.status_code == 200, r.text
    assert sorted(r.json()["presignedUrls"]) == ["1", "2", "3"]


def test_another_tenants_upload_is_404_on_every_route(api: Api) -> None:
    created = _create(api)
    path, query = f"/multipart/{created['uploadId']}", {"key": created["key"]}
    for method, suffix, body in [
        ("GET", "", None),
        ("GET", "/1", None),
        ("GET", "/batch", None),
        ("POST", "/complete", {"parts": [{"PartNumber": 1, "ETag": "x"}]}),
        ("DELETE", "", None),
    ]:
        params = {**query, "partNumbers": "1"} if suffix == "/batch" else query
        r = api.call(method, path + suffix, key=api.key_b, params=params, json=body)
        assert r.status_code == 404, (method, suffix, r.text)
    job = api.stack.job(created["job_id"])
    assert job is not None
    assert job["state"] == "AWAITING_UPLOAD"


def test_abort_removes_the_upload_and_cancels_the_job(api: Api) -> None:
    created = _create(api)
    r = api.call("DELETE", f"/multipart/{created['uploadId']}", params={"key": created["key"]})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "CANCELLED"
    open_ids = {u["UploadId"] for u in api.stack.multipart_uploads()}
    assert created["uploadId"] not in open_ids


def test_a_declared_size_over_the_limit_is_413_before_any_job(api: Api) -> None:
    r = api.call(
        "POST",
        "/multipart",
        json={"filename": "x.bin", "type": "", "metadata": {"size": LIMIT + 1}},
    )
    assert r.status_code == 413
    assert r.json()["message"] == f"size {LIMIT + 1} exceeds the limit of {LIMIT} bytes"


def test_an_undeclared_size_over_the_limit_is_413_at_complete_and_aborted(api: Api) -> None:
    created = _create(api)
    chunk = b"z" * (5 * MiB)
    etags = [_put_part(api, created, n, chunk) for n in (1, 2, 3)]  # 15 MiB > 12 MiB
    parts = [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]
    r = api.call(
        "POST",
        f"/multipart/{created['uploadId']}/complete",
        params={"key": created["key"]},
        json={"parts": parts},
    )
    assert r.status_code == 413, r.text
    assert created["uploadId"] not in {u["UploadId"] for u in api.stack.multipart_uploads()}


def test_an_unknown_processor_is_a_400_that_uppy_can_show(api: Api) -> None:
    r = api.call("GET", "/params", params={"filename": "a.png", "metadata[processors]": "nope"})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["message"].startswith("unknown processor 'nope'")


def test_cors_preflight_is_answered_for_allowed_origins_only(api: Api) -> None:
    ask = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    allowed = httpx.options(
        f"{api.server.url}/v1/s3/multipart", headers={"Origin": ALLOWED_ORIGIN, **ask}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    other = httpx.options(
        f"{api.server.url}/v1/s3/multipart", headers={"Origin": "http://evil.test", **ask}
    )
    assert other.status_code == 403
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"] == "urn:chute:problem:cors-refused"
    assert "access-control-allow-origin" not in other.headers


def test_cors_answers_expose_the_job_header_to_the_page(api: Api) -> None:
    r = api.call("GET", "/params", params={"filename": "a.txt"}, headers={"Origin": ALLOWED_ORIGIN})
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "Chute-Job-Id" in r.headers["access-control-expose-headers"]


def test_the_upload_page_allows_only_its_assets_the_api_and_s3(api: Api) -> None:
    r = httpx.get(f"{api.server.url}/upload")
    assert r.status_code == 200
    header = r.headers["content-security-policy"]
    policy = {d.strip().partition(" ")[0]: d.strip().partition(" ")[2] for d in header.split(";")}
    assert policy["default-src"] == "'none'"
    assert api.stack.aws.aws_endpoint_url in policy["connect-src"]
    assert "'unsafe-inline'" not in header
    assert f"{api.server.url}/upload/assets/vendor/uppy/uppy.min.js" in r.text
    assert httpx.get(f"{api.server.url}/upload/assets/upload.js").status_code == 200
