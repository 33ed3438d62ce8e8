"""Client digests are checked against the streamed bytes before the object appears,
and objects are written with S3's own SHA-256 checksums (moto stores them unverified,
so the tests read back what was sent)."""

from __future__ import annotations

import base64
import hashlib
import os
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from chute_api.s3_writer import ObjectWriter
from chute_core.aws import open_clients
from tests.conftest import ServerFactory
from tests.support.processes import Server
from tests.support.stack import Stack

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def api(module_stack: Stack, module_servers: ServerFactory) -> Server:
    return module_servers("api", module_stack, CHUTE_UPLOAD_PART_BYTES=str(5 * MiB))


def _content_digest(body: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"


def _post(api: Server, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(f"{api.url}/v1/uploads", content=body, headers=headers, timeout=60)


def _incoming(stack: Stack) -> set[str]:
    return set(stack.keys("incoming/"))


def test_matching_content_digest_is_accepted_and_recorded(api: Server, module_stack: Stack) -> None:
    body = os.urandom(4096)
    r = _post(api, body, **{"Content-Digest": _content_digest(body)})
    assert r.status_code == 202, r.text
    job = httpx.get(r.json()["status_url"]).json()
    assert job["sha256"] == hashlib.sha256(body).hexdigest()


def test_matching_hex_digest_header_is_accepted(api: Server) -> None:
    body = b"hex digest"
    r = _post(api, body, **{"X-Content-SHA256": hashlib.sha256(body).hexdigest()})
    assert r.status_code == 202, r.text


def test_small_upload_with_a_wrong_digest_is_400_and_leaves_nothing(
    api: Server, module_stack: Stack
) -> None:
    before = _incoming(module_stack)
    r = _post(api, b"the real bytes", **{"Content-Digest": _content_digest(b"other bytes")})
    assert r.status_code == 400
    assert r.json()["type"] == "urn:chute:problem:digest-mismatch"
    assert _incoming(module_stack) == before


def test_multipart_upload_with_a_wrong_digest_is_400_aborted_and_failed(
    api: Server, module_stack: Stack
) -> None:
    before = _incoming(module_stack)
    body = os.urandom(12 * MiB)
    r = _post(api, body, **{"X-Content-SHA256": hashlib.sha256(b"not it").hexdigest()})
    assert r.status_code == 400
    assert r.json()["type"] == "urn:chute:problem:digest-mismatch"
    assert _incoming(module_stack) == before
    s3 = module_stack.client("s3")
    assert s3.list_multipart_uploads(Bucket=module_stack.pipeline.bucket).get("Uploads", []) == []


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Content-Digest", "sha-256=abc"),
        ("Content-Digest", "md5=:AAAA:"),
        ("Content-Digest", "sha-256=:AAAA:"),
        ("X-Content-SHA256", "xyz"),
    ],
)
def test_unreadable_digest_headers_are_400(api: Server, header: str, value: str) -> None:
    r = _post(api, b"data", **{header: value})
    assert r.status_code == 400
    assert r.json()["type"] == "urn:chute:problem:malformed-digest"


@pytest.mark.asyncio
# aiohttp's advice for multi-MiB bytes bodies; the API process does not turn it into errors
@pytest.mark.filterwarnings("ignore:Sending a large body directly")
async def test_objects_are_written_with_s3_sha256_checksums(module_stack: Stack) -> None:
    """moto does not keep checksums: record the requests the writer sends instead."""
    sent: list[tuple[str, dict[str, str], bytes]] = []

    def record(request: Any, **_: Any) -> None:
        body = request.body if isinstance(request.body, bytes) else b""
        sent.append((request.url, dict(request.headers), body))

    async with AsyncExitStack() as stack:
        s3 = (await open_clients(stack, module_stack.aws)).s3
        s3.meta.events.register("before-send.s3", record)
        small, large = os.urandom(1000), os.urandom(11 * MiB)
        for name, body in (("small", small), ("large", large)):
            writer = ObjectWriter(
                s3,
                bucket=module_stack.pipeline.bucket,
                key=f"incoming/default/checksum-{name}",
                content_type="application/octet-stream",
                metadata={},
                part_size=5 * MiB,
                max_bytes=64 * MiB,
            )
            for i in range(0, len(body), MiB):  # as the API streams: chunk by chunk
                await writer.write(body[i : i + MiB])
            await writer.finish()

    def b64(data: bytes) -> str:
        return base64.b64encode(hashlib.sha256(data).digest()).decode()

    def header(headers: dict[str, Any], name: str) -> str | None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
        return value.decode() if isinstance(value, bytes) else value

    put = [h for url, h, _ in sent if url.endswith("checksum-small")]
    assert [header(h, "x-amz-checksum-sha256") for h in put] == [b64(small)]
    created = [h for url, h, _ in sent if "checksum-large?uploads" in url]
    assert header(created[0], "x-amz-checksum-algorithm") == "SHA256"
    parts = [h for url, h, _ in sent if "checksum-large?" in url and "partNumber=" in url]
    expected = [b64(large[i : i + 5 * MiB]) for i in range(0, len(large), 5 * MiB)]
    assert [header(h, "x-amz-checksum-sha256") for h in parts] == expected
    (completion,) = [
        b
        for url, _, b in sent
        if url.endswith("checksum-large?uploadId=" + url.split("=")[-1]) and b.startswith(b"<")
    ]
    assert completion.count(b"<ChecksumSHA256>") == len(expected)
