"""The tus 1.0.0 wire protocol (https://tus.io/protocols/resumable-upload): its headers
parsed into values, and the middleware every `/v1/tus` request passes through
(`X-HTTP-Method-Override`, the `Tus-Resumable` answer header), and the version check."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import format_datetime

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chute_api.errors import (
    ChecksumAlgorithmUnsupported,
    MalformedRequest,
    TusVersionUnsupported,
)
from chute_core.jobs import parse_iso

__all__ = [
    "CHECKSUMS",
    "EXTENSIONS",
    "OFFSET_STREAM",
    "PREFIX",
    "TUS_VERSION",
    "Checksum",
    "TusProtocol",
    "http_date",
    "parse_checksum",
    "parse_length",
    "parse_metadata",
    "parse_offset",
]

PREFIX = "/v1/tus"
TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,creation-defer-length,expiration,checksum,termination"
OFFSET_STREAM = "application/offset+octet-stream"
CHECKSUMS: dict[str, Callable[[], hashlib._Hash]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
}
_OVERRIDABLE = {"PATCH", "DELETE", "HEAD", "GET"}
MAX_METADATA_CHARS = 4096


def _non_negative(value: str | None, header: str) -> int | None:
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        raise MalformedRequest(f"{header} must be a non-negative integer, not {value[:40]!r}")
    return int(value)


def parse_offset(headers: Headers) -> int:
    offset = _non_negative(headers.get("upload-offset"), "Upload-Offset")
    if offset is None:
        raise MalformedRequest("Upload-Offset is required")
    return offset


def parse_length(headers: Headers, *, creating: bool) -> int | None:
    """Upload-Length, or None for Upload-Defer-Length: 1 (creation needs one of them)."""
    length = _non_negative(headers.get("upload-length"), "Upload-Length")
    defer = headers.get("upload-defer-length")
    if defer is not None and defer != "1":
        raise MalformedRequest("Upload-Defer-Length must be 1")
    if defer is not None and length is not None:
        raise MalformedRequest("send Upload-Length or Upload-Defer-Length, not both")
    if creating and defer is None and length is None:
        raise MalformedRequest("Upload-Length (or Upload-Defer-Length: 1) is required")
    return length


def parse_metadata(header: str | None) -> dict[str, str]:
    """Upload-Metadata: comma-separated `key base64(value)` pairs (a value may be absent).
    Values are text here (file names, types, options): bytes that are not UTF-8 are a 400."""
    if not header:
        return {}
    if len(header) > MAX_METADATA_CHARS:
        raise MalformedRequest(f"Upload-Metadata is longer than {MAX_METADATA_CHARS} characters")
    pairs: dict[str, str] = {}
    for item in header.split(","):
        fields = item.strip().split(" ")
        key = fields[0]
        if not key or len(fields) > 2 or not key.isascii() or key in pairs:
            raise MalformedRequest(f"Upload-Metadata has a malformed or repeated key {key!r}")
        try:
            raw = base64.b64decode(fields[1], validate=True) if len(fields) == 2 else b""
            pairs[key] = raw.decode()
        except (binascii.Error, UnicodeDecodeError):
            raise MalformedRequest(f"Upload-Metadata {key!r} is not base64 of UTF-8") from None
    return pairs


@dataclass(frozen=True)
class Checksum:
    algorithm: str
    digest: bytes

    def hasher(self) -> hashlib._Hash:
        return CHECKSUMS[self.algorithm]()


def parse_checksum(headers: Headers) -> Checksum | None:
    value = headers.get("upload-checksum")
    if value is None:
        return None
    algorithm, _, encoded = value.strip().partition(" ")
    if algorithm not in CHECKSUMS:
        raise ChecksumAlgorithmUnsupported(
            f"{algorithm[:20]!r} is not supported; use one of {', '.join(CHECKSUMS)}"
        )
    try:
        return Checksum(algorithm, base64.b64decode(encoded, validate=True))
    except binascii.Error:
        raise MalformedRequest("Upload-Checksum must be `algorithm base64(digest)`") from None


def http_date(moment: str) -> str:
    """An `iso()` moment as the RFC 9110 date Upload-Expires carries."""
    return format_datetime(parse_iso(moment), usegmt=True)


class TusProtocol:
    """On `/v1/tus` paths: honour X-HTTP-Method-Override (for clients that can send only
    GET and POST) and add `Tus-Resumable` to every answer but OPTIONS'."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        override = headers.get("x-http-method-override", "").upper()
        if scope["method"] == "POST" and override in _OVERRIDABLE:
            scope = {**scope, "method": override}
        if scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Tus-Resumable"] = TUS_VERSION
            await send(message)

        await self.app(scope, receive, send_with_version)


def require_version(headers: Headers) -> None:
    """412 for a request without `Tus-Resumable: 1.0.0` (checked by each route after
    authentication, so that an anonymous caller learns nothing but 401)."""
    if headers.get("tus-resumable") != TUS_VERSION:
        raise TusVersionUnsupported()
