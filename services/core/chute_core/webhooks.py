"""Webhook signatures and callback-URL safety, shared by the API (which accepts a
callback_url) and the worker (which delivers to it).

Signature: `Chute-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`.
A receiver recomputes it over the raw body and rejects old timestamps (replays): the
verification recipe in docs/api.md, which tests/e2e/test_webhooks.py runs as written."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import socket
import time
from urllib.parse import urlsplit

from chute_core.errors import UnsafeCallback

__all__ = ["check_callback_url", "resolve_safely", "sign"]

SIGNATURE_HEADER = "Chute-Signature"
MAX_URL_LENGTH = 2000


def sign(secret: bytes, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def check_callback_url(url: str, *, allow_http: bool) -> tuple[str, int]:
    """(host, port) of an acceptable URL: https (http only if allowed), a host, no
    credentials in it. Addresses are checked after resolution, at delivery."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeCallback(f"callback_url is longer than {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme not in (("https", "http") if allow_http else ("https",)):
        raise UnsafeCallback("callback_url must be https" + ("" if allow_http else " here"))
    if not parts.hostname:
        raise UnsafeCallback("callback_url has no host")
    if parts.username or parts.password:
        raise UnsafeCallback("callback_url must not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeCallback("callback_url has an invalid port") from None
    return parts.hostname, port


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


async def resolve_safely(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The host's addresses, refusing private, loopback, link-local and other internal
    ones (cloud metadata endpoints included) unless explicitly allowed."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeCallback(f"cannot resolve {host}: {exc}") from None
    addresses = sorted({str(info[4][0]) for info in infos})
    if not allow_private:
        bad = [a for a in addresses if _forbidden(ipaddress.ip_address(a.split("%")[0]))]
        if bad:
            raise UnsafeCallback(f"{host} resolves to an internal address ({bad[0]})")
    return addresses
