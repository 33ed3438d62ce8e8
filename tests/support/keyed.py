"""An API process that authenticates with API keys: one key per named tenant, written to
a keys file the test owns, and optionally a tenants (policy) file beside it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chute_api.api_keys import KeyFile, new_key
from tests.support.processes import Server
from tests.support.stack import Stack


@dataclass(frozen=True)
class KeyedApi:
    server: Server
    keys: dict[str, str]  # tenant -> its key
    keys_file: Path

    def bearer(self, tenant: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[tenant]}"}


def keyed_api(
    start: Callable[..., Server],
    stack: Stack,
    folder: Path,
    tenants: list[str],
    *,
    policies: dict[str, Any] | None = None,
    **env: str,
) -> KeyedApi:
    """`start("api", stack, ...)` with CHUTE_AUTH=keys and a key for each of `tenants`;
    `policies` become CHUTE_TENANTS_FILE."""
    file = KeyFile(folder / "keys.yaml")
    keys = {tenant: new_key() for tenant in tenants}
    for tenant, key in keys.items():
        file.add(tenant, key)
    if policies is not None:
        tenants_file = folder / "tenants.yaml"
        tenants_file.write_text(yaml.safe_dump(policies))
        env = {**env, "CHUTE_TENANTS_FILE": str(tenants_file)}
    server = start("api", stack, CHUTE_AUTH="keys", CHUTE_API_KEYS_FILE=str(file.path), **env)
    return KeyedApi(server, keys, file.path)
