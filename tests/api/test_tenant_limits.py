"""Per-tenant limits from CHUTE_TENANTS_FILE: size (413), content types detected from
the bytes (415), processors (400), reloaded on change; a stalled body is a 408."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import ServerFactory
from tests.support import files
from tests.support.keyed import keyed_api
from tests.support.polling import wait_until
from tests.support.processes import Server
from tests.support.stack import Stack


@dataclass
class Limited:
    api: Server
    tenants_file: Path
    small: dict[str, str]
    open: dict[str, str]


@pytest.fixture(scope="module")
def limited(
    module_stack: Stack, module_servers: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Limited:
    policy = {"max_upload_bytes": 1000, "content_types": ["image/*"], "processors": ["inspect"]}
    api = keyed_api(
        module_servers,
        module_stack,
        tmp_path_factory.mktemp("tenants"),
        ["small", "open"],
        policies={"small": policy},
        CHUTE_UPLOAD_IDLE_TIMEOUT_SECONDS="1",
    )
    return Limited(
        api.server, api.keys_file.with_name("tenants.yaml"), api.bearer("small"), api.bearer("open")
    )


def _post(
    limited: Limited, headers: dict[str, str], body: bytes | Iterator[bytes], **kw: str
) -> httpx.Response:
    return httpx.post(
        f"{limited.api.url}/v1/uploads",
        content=body,
        params=kw,
        headers={**headers, "Content-Type": kw.pop("content_type", "application/octet-stream")},
        timeout=30,
    )


def test_tenant_size_limit_is_413_declared_or_streamed(limited: Limited) -> None:
    declared = _post(limited, limited.small, files.image(64, 64) + bytes(2000))
    assert declared.status_code == 413
    assert declared.json()["type"] == "urn:chute:problem:upload-too-large"
    streamed = _post(limited, limited.small, iter([files.image(8, 8), bytes(2000)]))
    assert streamed.status_code == 413
    assert _post(limited, limited.open, bytes(5000)).status_code == 202


def test_content_type_is_checked_against_the_bytes_not_the_header(limited: Limited) -> None:
    lying = httpx.post(
        f"{limited.api.url}/v1/uploads",
        content=b"just some text",
        headers={**limited.small, "Content-Type": "image/png"},
    )
    assert lying.status_code == 415
    assert lying.json()["type"] == "urn:chute:problem:unsupported-media-type"
    assert "text/plain" in lying.json()["detail"]
    png = httpx.post(
        f"{limited.api.url}/v1/uploads",
        content=files.image(8, 8),
        headers={**limited.small, "Content-Type": "application/octet-stream"},
    )
    assert png.status_code == 202, png.text


def test_tenant_processor_allow_list_applies_at_upload(limited: Limited) -> None:
    r = _post(limited, limited.small, files.image(8, 8), processors="thumbnail")
    assert r.status_code == 400
    assert r.json()["type"] == "urn:chute:problem:unknown-processor"
    assert _post(limited, limited.open, b"x", processors="thumbnail").status_code == 202


def test_policy_changes_apply_without_restart(limited: Limited) -> None:
    original = limited.tenants_file.read_text()
    try:
        policy = yaml.safe_load(original)
        policy["small"]["content_types"] = ["image/*", "text/plain"]
        limited.tenants_file.write_text(yaml.safe_dump(policy))
        wait_until(
            lambda: _post(limited, limited.small, b"now text is fine").status_code == 202,
            timeout=10,
            interval=0.2,
            what="the new policy applied",
        )
    finally:
        limited.tenants_file.write_text(original)


def _read_response(conn: socket.socket) -> str:
    """One whole HTTP response: headers, then Content-Length bytes (however segmented)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = conn.recv(4096)
        if not chunk:
            break
        body += chunk
    return (head + b"\r\n\r\n" + body).decode()


def test_a_stalled_body_is_a_408_problem(limited: Limited) -> None:
    host, port = limited.api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        request = (
            "POST /v1/uploads HTTP/1.1\r\n"
            f"Host: {host}\r\n{'Authorization: ' + limited.open['Authorization']}\r\n"
            "Content-Type: application/octet-stream\r\nContent-Length: 100\r\n\r\n"
        )
        conn.sendall(request.encode() + b"0123456789")  # then nothing more
        started = time.monotonic()
        answer = _read_response(conn)
    assert answer.startswith("HTTP/1.1 408"), answer
    assert "urn:chute:problem:upload-timeout" in answer
    assert time.monotonic() - started < 5
