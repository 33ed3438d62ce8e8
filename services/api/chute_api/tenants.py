"""Per-tenant policies from CHUTE_TENANTS_FILE (YAML or JSON), re-read on change:

    acme:
      max_upload_bytes: 104857600        # 413 above it (never above CHUTE_MAX_UPLOAD_BYTES)
      content_types: ["image/*", "application/pdf"]   # detected from the bytes: 415 otherwise
      processors: [inspect, thumbnail]   # what ?processors= may name

Tenants not in the file (or without a field) get the API-wide settings."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chute_api.watched_file import WatchedFile
from chute_core.errors import ChuteError
from chute_core.keys import valid_tenant

__all__ = ["TenantBook", "TenantPolicy"]


class TenantPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_upload_bytes: int | None = Field(default=None, ge=1)
    content_types: list[str] | None = None
    processors: list[str] | None = None


def _parse(path: Path) -> dict[str, TenantPolicy]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        return {}
    except yaml.YAMLError as exc:
        raise ChuteError(f"{path}: not YAML or JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ChuteError(f"{path}: expected a mapping of tenant -> policy")
    policies = {}
    for tenant, raw in data.items():
        if not isinstance(tenant, str) or not valid_tenant(tenant):
            raise ChuteError(f"{path}: invalid tenant name {tenant!r}")
        try:
            policies[tenant] = TenantPolicy.model_validate(raw or {})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ChuteError(f"{path}: {tenant}.{where}: {first['msg']}") from None
    return policies


class TenantBook:
    def __init__(self, path: Path | None) -> None:
        self._file: WatchedFile[dict[str, TenantPolicy]] | None = (
            WatchedFile(path, _parse, empty={}) if path is not None else None
        )

    def policy(self, tenant: str) -> TenantPolicy:
        if self._file is None:
            return TenantPolicy()
        return self._file.current().get(tenant, TenantPolicy())

    @staticmethod
    def validate(path: Path) -> None:
        """Raise ChuteError with the reason if the file is unusable (at start-up)."""
        _parse(path)
