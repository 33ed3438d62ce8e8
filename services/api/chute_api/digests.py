"""The digest a client sends with an upload: `Content-Digest: sha-256=:<base64>:`
(RFC 9530) or `X-Content-SHA256: <hex>`. The API checks it against the bytes it
streamed before the object becomes visible."""

from __future__ import annotations

import base64
import binascii
import re

from starlette.datastructures import Headers

from chute_api.errors import MalformedDigest

__all__ = ["expected_sha256"]

_MEMBER = re.compile(r"^\s*([a-z0-9_*-]+)\s*=\s*:([A-Za-z0-9+/=]*):\s*$")
_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


def _from_content_digest(value: str) -> str:
    algorithms = {}
    for member in value.split(","):
        match = _MEMBER.match(member)
        if not match:
            raise MalformedDigest(f"Content-Digest: cannot parse {member.strip()!r}")
        algorithms[match.group(1)] = match.group(2)
    if "sha-256" not in algorithms:
        raise MalformedDigest(
            f"Content-Digest: only sha-256 is checked here, got {', '.join(algorithms)}"
        )
    try:
        raw = base64.b64decode(algorithms["sha-256"], validate=True)
    except binascii.Error:
        raise MalformedDigest("Content-Digest: sha-256 is not valid base64") from None
    if len(raw) != 32:
        raise MalformedDigest("Content-Digest: sha-256 must be 32 bytes")
    return raw.hex()


def expected_sha256(headers: Headers) -> str | None:
    """The hex SHA-256 the client vouches for, or None; MalformedDigest if unreadable."""
    found = []
    if (value := headers.get("content-digest")) is not None:
        found.append(_from_content_digest(value))
    if (value := headers.get("x-content-sha256")) is not None:
        if not _HEX.match(value.strip()):
            raise MalformedDigest("X-Content-SHA256 must be 64 hex digits")
        found.append(value.strip().lower())
    if len(set(found)) > 1:
        raise MalformedDigest("Content-Digest and X-Content-SHA256 disagree")
    return found[0] if found else None
