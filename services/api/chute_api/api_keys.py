"""The API-keys file: tenant -> SHA-256 hashes of that tenant's keys (YAML or JSON).

Only hashes are stored. The file is re-read when it changes (a Kubernetes Secret
mounted as a file is swapped atomically), at most once a second, without a restart.
`chute keys` edits it with an atomic rename so a reader never sees half a file."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from chute_api.watched_file import WatchedFile
from chute_core.errors import ChuteError
from chute_core.keys import valid_tenant

__all__ = ["KeyFile", "KeyRing", "hash_key", "new_key"]

KEY_PREFIX = "chute_"
_HEX = frozenset("0123456789abcdef")


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _parse(path: Path) -> dict[str, list[str]]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    try:
        data = yaml.safe_load(text) or {}  # YAML is a superset of JSON
    except yaml.YAMLError as exc:
        raise ChuteError(f"{path}: not YAML or JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ChuteError(f"{path}: expected a mapping of tenant -> list of key hashes")
    tenants: dict[str, list[str]] = {}
    for tenant, hashes in data.items():
        if not isinstance(tenant, str) or not valid_tenant(tenant):
            raise ChuteError(f"{path}: invalid tenant name {tenant!r}")
        if not isinstance(hashes, list) or not all(
            isinstance(h, str) and len(h) == 64 and set(h) <= _HEX for h in hashes
        ):
            raise ChuteError(f"{path}: {tenant}: expected a list of hex SHA-256 hashes")
        tenants[tenant] = list(hashes)
    return tenants


class KeyRing:
    """The keys as last read; lookups compare every hash in constant time."""

    def __init__(self, path: Path, check_interval: float = 1.0) -> None:
        self._file: WatchedFile[list[tuple[bytes, str]]] = WatchedFile(
            path, _entries, empty=[], check_interval=check_interval
        )

    def tenant_for(self, key: str) -> str | None:
        digest = hashlib.sha256(key.encode()).digest()
        found = None
        for stored, tenant in self._file.current():  # no early exit: time does not tell
            if hmac.compare_digest(stored, digest):
                found = tenant
        return found


def _entries(path: Path) -> list[tuple[bytes, str]]:
    return [(bytes.fromhex(h), t) for t, hashes in _parse(path).items() for h in hashes]


@dataclass
class KeyFile:
    """Edits for `chute keys`: read, change, write back atomically."""

    path: Path

    def load(self) -> dict[str, list[str]]:
        return _parse(self.path)

    def save(self, tenants: dict[str, list[str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".keys-", dir=self.path.parent)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump({t: h for t, h in sorted(tenants.items()) if h}, f, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def add(self, tenant: str, key: str) -> str:
        if not valid_tenant(tenant):
            raise ChuteError(f"invalid tenant name {tenant!r} (lowercase letters, digits, - and _)")
        tenants = self.load()
        digest = hash_key(key)
        if digest not in tenants.setdefault(tenant, []):
            tenants[tenant].append(digest)
        self.save(tenants)
        return digest

    def revoke(self, prefix: str) -> tuple[str, str]:
        """Remove the one key whose hash starts with `prefix` (>= 8 hex digits)."""
        if len(prefix) < 8:
            raise ChuteError("give at least 8 characters of the key's hash")
        tenants = self.load()
        matches = [(t, h) for t, hashes in tenants.items() for h in hashes if h.startswith(prefix)]
        if not matches:
            raise ChuteError(f"no key hash starts with {prefix}")
        if len(matches) > 1:
            raise ChuteError(f"{len(matches)} key hashes start with {prefix}; give more of it")
        tenant, digest = matches[0]
        tenants[tenant].remove(digest)
        self.save(tenants)
        return tenant, digest
