"""tus 1.0.0 conformance at /v1/tus over HTTP: every status the protocol names, each
extension chute offers, and the job each upload is (RECEIVING, then QUEUED with its
SHA-256). A real API process against moto; no worker, so jobs stay where the API
leaves them."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.keyed import keyed_api
from tests.support.polling import wait_until
from tests.support.processes import Server
from tests.support.scrape import metric_sum
from tests.support.stack import Stack

MiB = 1024 * 1024
LIMIT = 40 * MiB
TUS = {"Tus-Resumable": "1.0.0"}
STREAM = {"Content-Type": "application/offset+octet-stream"}
ORIGIN = "http://app.example.test"
TUS_REQUEST_HEADERS = "tus-resumable,upload-offset,upload-length,upload-metadata,upload-checksum"


@dataclass
class Tus:
    stack: Stack
    server: Server
    key_a: str
    key_b: str
    keys_file: str

    @property
    def url(self) -> str:
        return f"{self.server.url}/v1/tus/"

    def call(self, method: str, url: str, *, key: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.key_a}", **TUS, **kw.pop("headers", {})}
        return httpx.request(method, url, headers=headers, timeout=60, **kw)

    def create(self, length: int | None, *, metadata: str | None = None, **kw: Any) -> str:
        headers = {"Upload-Length": str(length)} if length is not None else {}
        if length is None:
            headers["Upload-Defer-Length"] = "1"
        if metadata:
            headers["Upload-Metadata"] = metadata
        r = self.call("POST", self.url, headers={**headers, **kw.pop("headers", {})}, **kw)
        assert r.status_code == 201, r.text
        location: str = r.headers["location"]
        return location

    def patch(self, location: str, offset: int, data: bytes, **headers: str) -> httpx.Response:
        return self.call(
            "PATCH",
            location,
            content=data,
            headers={**STREAM, "Upload-Offset": str(offset), **headers},
        )

    def job(self, location: str) -> dict[str, Any]:
        job_id = location.rsplit("/", 1)[1]
        r = self.call("GET", f"{self.server.url}/v1/jobs/{job_id}")
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        return job


@pytest.fixture(scope="module")
def tus(
    module_stack: Stack, module_servers: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Tus:
    api = keyed_api(
        module_servers,
        module_stack,
        tmp_path_factory.mktemp("tus"),
        ["tenant-a", "tenant-b"],
        policies={"tenant-b": {"content_types": ["image/png"]}},
        CHUTE_MAX_UPLOAD_BYTES=str(LIMIT),
        CHUTE_UPLOAD_PART_BYTES=str(5 * MiB),
        CHUTE_TUS_LOCK_SECONDS="3",
        CHUTE_CORS_ORIGINS=ORIGIN,
    )
    keys = api.keys
    return Tus(module_stack, api.server, keys["tenant-a"], keys["tenant-b"], str(api.keys_file))


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _checksum(algorithm: str, data: bytes) -> str:
    return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def test_options_names_version_extensions_max_size_and_checksums(tus: Tus) -> None:
    r = httpx.options(tus.url)
    assert r.status_code == 204
    assert r.headers["tus-version"] == "1.0.0"
    assert set(r.headers["tus-extension"].split(",")) >= {
        "creation",
        "creation-with-upload",
        "creation-defer-length",
        "expiration",
        "checksum",
        "termination",
    }
    assert int(r.headers["tus-max-size"]) == LIMIT
    assert set(r.headers["tus-checksum-algorithm"].split(",")) == {"sha1", "sha256"}
    assert "tus-resumable" not in r.headers


def test_creation_answers_201_location_expiry_and_a_receiving_job(tus: Tus) -> None:
    meta = f"filename {_b64('../notes.txt')},filetype {_b64('text/plain')}"
    r = tus.call("POST", tus.url, headers={"Upload-Length": "10", "Upload-Metadata": meta})
    assert r.status_code == 201, r.text
    assert r.headers["tus-resumable"] == "1.0.0"
    assert r.headers["location"].startswith(tus.url)
    assert r.headers["upload-expires"].endswith("GMT")
    job = tus.job(r.headers["location"])
    assert job["state"] == "RECEIVING"
    assert job["object"]["filename"] == "notes.txt"  # sanitised as every upload's name
    assert job["object"]["content_type"] == "text/plain"


def test_head_reports_offset_length_metadata_and_no_store(tus: Tus) -> None:
    meta = f"filename {_b64('a.bin')}"
    location = tus.create(100, metadata=meta)
    assert tus.patch(location, 0, b"x" * 30).status_code == 204
    r = tus.call("HEAD", location)
    assert r.status_code == 200
    assert r.headers["upload-offset"] == "30"
    assert r.headers["upload-length"] == "100"
    assert r.headers["upload-metadata"] == meta
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["tus-resumable"] == "1.0.0"


def test_patches_complete_the_upload_queued_with_its_sha256(tus: Tus) -> None:
    data = os.urandom(12 * MiB + 3)
    location = tus.create(len(data))
    offset = 0
    for size in (1 * MiB, 7 * MiB, 4 * MiB + 3):  # a tail, a part and a tail, the rest
        r = tus.patch(location, offset, data[offset : offset + size])
        assert r.status_code == 204, r.text
        offset += size
        assert int(r.headers["upload-offset"]) == offset
        if offset < len(data):
            assert r.headers["upload-expires"].endswith("GMT")
    job = tus.job(location)
    assert job["state"] == "QUEUED"
    assert job["sha256"] == hashlib.sha256(data).hexdigest()
    assert job["object"]["size"] == len(data)
    stored = (
        tus.stack.client("s3")
        .get_object(Bucket=tus.stack.pipeline.bucket, Key=job["object"]["key"])["Body"]
        .read()
    )
    assert stored == data
    assert tus.stack.keys(f"{tus.stack.pipeline.partial_prefix}tenant-a/{job['job_id']}") == []


def test_offset_mismatch_is_409_and_changes_nothing(tus: Tus) -> None:
    location = tus.create(10)
    r = tus.patch(location, 3, b"abc")
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert tus.call("HEAD", location).headers["upload-offset"] == "0"


def test_wrong_tus_resumable_is_412_with_tus_version(tus: Tus) -> None:
    r = tus.call("POST", tus.url, headers={"Tus-Resumable": "0.2.2", "Upload-Length": "5"})
    assert r.status_code == 412
    assert r.headers["tus-version"] == "1.0.0"
    assert r.json()["type"].endswith("tus-version-unsupported")


def test_patch_without_offset_stream_type_is_415(tus: Tus) -> None:
    location = tus.create(3)
    r = tus.patch(location, 0, b"abc", **{"Content-Type": "application/octet-stream"})
    assert r.status_code == 415


def test_method_override_turns_a_post_into_a_patch(tus: Tus) -> None:
    location = tus.create(3)
    r = tus.call(
        "POST",
        location,
        content=b"abc",
        headers={**STREAM, "Upload-Offset": "0", "X-HTTP-Method-Override": "PATCH"},
    )
    assert r.status_code == 204, r.text
    assert r.headers["upload-offset"] == "3"


def test_creation_with_upload_stores_the_body_and_answers_its_offset(tus: Tus) -> None:
    r = tus.call("POST", tus.url, content=b"hello", headers={**STREAM, "Upload-Length": "11"})
    assert r.status_code == 201, r.text
    assert r.headers["upload-offset"] == "5"
    assert tus.patch(r.headers["location"], 5, b" world").status_code == 204
    assert tus.job(r.headers["location"])["sha256"] == hashlib.sha256(b"hello world").hexdigest()


def test_deferred_length_is_declared_by_a_later_patch(tus: Tus) -> None:
    location = tus.create(None)
    head = tus.call("HEAD", location)
    assert head.headers["upload-defer-length"] == "1"
    assert "upload-length" not in head.headers
    assert tus.patch(location, 0, b"abc").status_code == 204
    r = tus.patch(location, 3, b"def", **{"Upload-Length": "6"})
    assert r.status_code == 204, r.text
    job = tus.job(location)
    assert job["state"] == "QUEUED"
    assert job["sha256"] == hashlib.sha256(b"abcdef").hexdigest()


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_matching_checksum_is_accepted(tus: Tus, algorithm: str) -> None:
    location = tus.create(4)
    r = tus.patch(location, 0, b"abcd", **{"Upload-Checksum": _checksum(algorithm, b"abcd")})
    assert r.status_code == 204, r.text


def test_checksum_mismatch_is_460_and_the_offset_stays(tus: Tus) -> None:
    location = tus.create(20)
    assert tus.patch(location, 0, b"12345").status_code == 204
    r = tus.patch(location, 5, b"67890", **{"Upload-Checksum": _checksum("sha1", b"other")})
    assert r.status_code == 460
    assert r.json()["type"].endswith("checksum-mismatch")
    assert tus.call("HEAD", location).headers["upload-offset"] == "5"
    assert tus.patch(location, 5, b"67890").status_code == 204  # the retry works


def test_unknown_checksum_algorithm_is_400(tus: Tus) -> None:
    location = tus.create(4)
    r = tus.patch(location, 0, b"abcd", **{"Upload-Checksum": "md5 AAAA"})
    assert r.status_code == 400
    assert r.json()["type"].endswith("checksum-algorithm-unsupported")


def test_termination_is_204_then_404_and_leaves_no_bytes(tus: Tus) -> None:
    location = tus.create(8 * MiB)
    assert tus.patch(location, 0, os.urandom(6 * MiB)).status_code == 204  # a part in S3
    assert tus.call("DELETE", location).status_code == 204
    assert tus.call("HEAD", location).status_code == 404
    assert tus.patch(location, 6 * MiB, b"x").status_code == 404
    job = tus.job(location)
    assert job["state"] == "CANCELLED"
    key = job["object"]["key"]
    assert [u for u in tus.stack.multipart_uploads() if u["Key"] == key] == []


def test_empty_upload_is_refused_at_creation(tus: Tus) -> None:
    r = tus.call("POST", tus.url, headers={"Upload-Length": "0"})
    assert r.status_code == 400
    assert r.json()["type"].endswith("empty-upload")


def test_length_over_the_tenant_limit_is_413(tus: Tus) -> None:
    r = tus.call("POST", tus.url, headers={"Upload-Length": str(LIMIT + 1)})
    assert r.status_code == 413


def test_body_past_the_length_is_413_and_the_offset_stays(tus: Tus) -> None:
    location = tus.create(4)
    assert tus.patch(location, 0, b"abcdef").status_code == 413
    assert tus.call("HEAD", location).headers["upload-offset"] == "0"


def test_another_tenants_upload_is_404_for_head_patch_and_delete(tus: Tus) -> None:
    location = tus.create(4)
    other = {"Authorization": f"Bearer {tus.key_b}"}
    assert tus.call("HEAD", location, key=tus.key_b).status_code == 404
    assert tus.patch(location, 0, b"abcd", **other).status_code == 404
    assert tus.call("DELETE", location, key=tus.key_b).status_code == 404
    assert tus.patch(location, 0, b"abcd").status_code == 204  # the owner's upload is intact


def test_unauthenticated_creation_is_401(tus: Tus) -> None:
    r = httpx.post(tus.url, headers={**TUS, "Upload-Length": "4"})
    assert r.status_code == 401


def test_expired_upload_is_410(tus: Tus, module_servers: ServerFactory) -> None:
    server = module_servers(
        "api",
        tus.stack,
        CHUTE_AUTH="keys",
        CHUTE_API_KEYS_FILE=tus.keys_file,
        CHUTE_TUS_EXPIRE_SECONDS="1",
    )
    short = Tus(tus.stack, server, tus.key_a, tus.key_b, tus.keys_file)
    location = short.create(10)

    def gone() -> bool:
        return short.call("HEAD", location).status_code == 410

    wait_until(gone, timeout=10, what="the upload to expire")
    assert short.patch(location, 0, b"x").status_code == 410


def test_concurrent_patches_at_one_offset_one_wins_and_the_bytes_are_right(tus: Tus) -> None:
    data = os.urandom(6 * MiB)
    location = tus.create(len(data))
    answers: list[int] = []

    def slow_body() -> Iterator[bytes]:
        for i in range(0, len(data), 256 * 1024):
            yield data[i : i + 256 * 1024]

    def send() -> None:
        answers.append(tus.patch(location, 0, slow_body()).status_code)  # type: ignore[arg-type]

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) in ([204, 409], [204, 423]), answers
    job = tus.job(location)
    assert job["state"] == "QUEUED"
    assert job["sha256"] == hashlib.sha256(data).hexdigest()


def test_cors_preflight_allows_a_pages_tus_patch(tus: Tus) -> None:
    r = httpx.options(
        f"{tus.url}0190a000-0000-7000-8000-000000000000",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": TUS_REQUEST_HEADERS,
        },
    )
    assert r.status_code == 200, r.text
    assert "PATCH" in r.headers["access-control-allow-methods"]
    allowed = r.headers["access-control-allow-headers"].lower()
    assert all(h in allowed for h in TUS_REQUEST_HEADERS.split(","))


def test_cors_exposes_the_tus_headers_to_a_page(tus: Tus) -> None:
    location = tus.create(5)
    r = tus.patch(location, 0, b"ab", Origin=ORIGIN)
    assert r.headers["access-control-allow-origin"] == ORIGIN
    exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
    assert exposed >= {
        "upload-offset",
        "location",
        "upload-length",
        "tus-resumable",
        "tus-version",
        "tus-extension",
        "tus-max-size",
        "upload-metadata",
        "upload-defer-length",
        "upload-expires",
    }


def test_a_patch_cut_off_mid_body_keeps_what_reached_s3_and_head_says_so(tus: Tus) -> None:
    data = os.urandom(12 * MiB)
    location = tus.create(len(data))
    url = urlsplit(location)
    head = (
        f"PATCH {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: Bearer {tus.key_a}\r\nTus-Resumable: 1.0.0\r\n"
        "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )

    def offset() -> int:
        return int(tus.call("HEAD", location).headers["upload-offset"])

    with socket.create_connection((url.hostname or "", url.port or 80)) as cut:
        cut.sendall(head.encode() + data[: 6 * MiB])
        wait_until(lambda: offset() >= 5 * MiB, timeout=20, what="a part committed mid-body")
    # The connection is gone: the request keeps what it read, releases the upload, and
    # the next HEAD says where to resume.
    table, job_id = tus.stack.client("dynamodb"), location.rsplit("/", 1)[1]

    def released() -> bool:
        item = table.get_item(TableName=tus.stack.pipeline.table, Key={"job_id": {"S": job_id}})[
            "Item"
        ]
        return "upload_lock" not in item

    wait_until(released, timeout=20, what="the cut PATCH to let go of the upload")
    resume = offset()
    assert 5 * MiB <= resume <= 6 * MiB
    assert tus.patch(location, resume, data[resume:]).status_code == 204
    job = tus.job(location)
    assert job["sha256"] == hashlib.sha256(data).hexdigest()


def test_content_the_tenant_may_not_upload_is_415_and_the_upload_is_gone(tus: Tus) -> None:
    other = {"Authorization": f"Bearer {tus.key_b}"}
    location = tus.create(20_000, key=tus.key_b)
    r = tus.patch(location, 0, b"plain words, not a picture. " * 600, **other)
    assert r.status_code == 415, r.text
    assert tus.call("HEAD", location, key=tus.key_b).status_code == 410
    job_id = location.rsplit("/", 1)[1]
    job = tus.call("GET", f"{tus.server.url}/v1/jobs/{job_id}", key=tus.key_b).json()
    assert job["state"] == "FAILED"


def test_processors_come_from_upload_metadata(tus: Tus) -> None:
    location = tus.create(5, metadata=f"processors {_b64('inspect')}")
    assert tus.job(location)["processors"] == ["inspect"]
    r = tus.call(
        "POST",
        tus.url,
        headers={"Upload-Length": "5", "Upload-Metadata": f"processors {_b64('nope')}"},
    )
    assert r.status_code == 400
    assert r.json()["type"].endswith("unknown-processor")


def test_a_patch_without_room_in_the_memory_budget_is_503_server_busy(
    tus: Tus, module_servers: ServerFactory
) -> None:
    server = module_servers(
        "api",
        tus.stack,
        CHUTE_AUTH="keys",
        CHUTE_API_KEYS_FILE=tus.keys_file,
        CHUTE_API_UPLOAD_MEMORY_BYTES=str(MiB),
        CHUTE_API_UPLOAD_WAIT_SECONDS="0",
    )
    small = Tus(tus.stack, server, tus.key_a, tus.key_b, tus.keys_file)
    first, second = small.create(4 * MiB), small.create(4 * MiB)
    release = threading.Event()

    def slow_body() -> Iterator[bytes]:
        yield b"x" * MiB
        release.wait(timeout=30)
        yield b"x" * (3 * MiB)

    holder = threading.Thread(target=lambda: small.patch(first, 0, slow_body()))  # type: ignore[arg-type]
    holder.start()
    try:
        wait_until(
            lambda: metric_sum(server.url, "chute_api_upload_memory_in_use_bytes") > 0,
            timeout=10,
            what="the first PATCH to hold the budget",
        )
        r = small.patch(second, 0, b"y" * MiB)
        assert r.status_code == 503
        assert r.json()["type"].endswith("server-busy")
        assert int(r.headers["retry-after"]) >= 1
    finally:
        release.set()
        holder.join()
    assert small.call("HEAD", first).headers["upload-offset"] == str(4 * MiB)


def test_a_patch_ending_on_a_part_boundary_then_the_rest_completes_the_right_bytes(
    tus: Tus,
) -> None:
    data = os.urandom(5 * MiB + 1)  # one whole part (the fixture's 5 MiB), then one byte
    location = tus.create(len(data))
    assert tus.patch(location, 0, data[: 5 * MiB]).status_code == 204
    assert tus.patch(location, 5 * MiB, data[5 * MiB :]).status_code == 204
    job = tus.job(location)
    assert job["sha256"] == hashlib.sha256(data).hexdigest()
    stored = tus.stack.client("s3").get_object(
        Bucket=tus.stack.pipeline.bucket, Key=job["object"]["key"]
    )
    assert stored["Body"].read() == data
