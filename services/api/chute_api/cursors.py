"""Opaque, tamper-proof list cursors: the position to resume from, bound to the tenant
and filter it was issued for, signed with HMAC-SHA256. A forged, altered or foreign
cursor is refused (400), so it can never reach another tenant's jobs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping

from chute_api.errors import BadCursor

__all__ = ["CursorCodec"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()

    def encode(self, position: Mapping[str, str], *, tenant: str, scope: str) -> str:
        payload = json.dumps(
            {"p": dict(position), "t": tenant, "s": scope}, separators=(",", ":"), sort_keys=True
        ).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def decode(self, cursor: str, *, tenant: str, scope: str) -> dict[str, str]:
        try:
            payload_text, mac_text = cursor.split(".")
            payload, mac = _unb64(payload_text), _unb64(mac_text)
        except (ValueError, TypeError):
            raise BadCursor("malformed cursor") from None
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise BadCursor("the cursor was not issued by this API")
        data = json.loads(payload)
        if data.get("t") != tenant or data.get("s") != scope:
            raise BadCursor("the cursor belongs to another query")
        position = data.get("p")
        if not isinstance(position, dict) or not all(isinstance(v, str) for v in position.values()):
            raise BadCursor("malformed cursor")
        return position
