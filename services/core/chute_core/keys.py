"""The object-key scheme: incoming/[{pool}/]{tenant}/{job_id} (the pool segment only
when pools are configured: chute_core.pools), results/{tenant}/{job_id}/{name} and a
tus upload's tail partial/{tenant}/{job_id}/{writer}."""

from __future__ import annotations

import re
from dataclasses import dataclass

from chute_core.errors import PoisonMessage
from chute_core.pools import POOL_NAME
from chute_core.settings import PipelineSettings

__all__ = ["ObjectKeys", "valid_job_id", "valid_tenant"]

_TENANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_POOL = re.compile(POOL_NAME)
_JOB_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def valid_job_id(job_id: str) -> bool:
    """Job ids are UUIDs; the table also holds other records under other key shapes."""
    return bool(_JOB_ID.match(job_id))


def valid_tenant(tenant: str) -> bool:
    """Tenants become key segments, so they may never contain '/' or other surprises."""
    return bool(_TENANT.match(tenant))


@dataclass(frozen=True)
class ObjectKeys:
    incoming_prefix: str
    results_prefix: str
    partial_prefix: str = "partial/"

    @classmethod
    def from_settings(cls, settings: PipelineSettings) -> ObjectKeys:
        return cls(settings.incoming_prefix, settings.results_prefix, settings.partial_prefix)

    def incoming(self, tenant: str, job_id: str, segment: str = "") -> str:
        """The upload's key; `segment` is its pool's ("" unpooled, else "{pool}/")."""
        if not valid_tenant(tenant):
            raise ValueError(f"invalid tenant {tenant!r}")
        return f"{self.incoming_prefix}{segment}{tenant}/{job_id}"

    def result(self, tenant: str, job_id: str, name: str) -> str:
        return f"{self.results_prefix}{tenant}/{job_id}/{name}"

    def tail(self, tenant: str, job_id: str, writer: str) -> str:
        """A tus upload's bytes short of a part, as one request (`writer`) left them."""
        return f"{self.partial_prefix}{tenant}/{job_id}/{writer}"

    def parse_incoming(self, key: str) -> tuple[str, str]:
        """(tenant, job_id) of an incoming key; PoisonMessage for any other key."""
        _, tenant, job_id = self.parse_pooled(key)
        return tenant, job_id

    def parse_pooled(self, key: str) -> tuple[str | None, str, str]:
        """(pool segment or None, tenant, job_id) of an incoming key; PoisonMessage for
        any other key. A key without a pool segment is the default pool's."""
        if not key.startswith(self.incoming_prefix):
            raise PoisonMessage(
                "unknown_prefix", f"key {key!r} is not under {self.incoming_prefix}"
            )
        parts = key[len(self.incoming_prefix) :].split("/")
        pool = parts.pop(0) if len(parts) == 3 and _POOL.match(parts[0]) else None
        if len(parts) != 2 or not valid_tenant(parts[0]) or not _JOB_ID.match(parts[1]):
            raise PoisonMessage(
                "malformed_key",
                f"key {key!r} is not {self.incoming_prefix}[pool/]tenant/job_id",
            )
        return pool, parts[0], parts[1]
