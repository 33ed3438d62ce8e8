"""The API's settings (CHUTE_* variables read by `chute api`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings

from chute_core.settings import CONFIG, CommaList, MiB, Port

__all__ = ["ASYMMETRIC_ALGORITHMS", "ApiSettings"]


class ApiSettings(BaseSettings):
    model_config = CONFIG

    api_host: str = "127.0.0.1"
    api_port: Port = 8000
    # On SIGTERM, seconds in-flight requests (a long upload) may still finish; the chart
    # derives it from the pod's grace period minus its preStop sleep.
    api_shutdown_grace_seconds: Annotated[int, Field(ge=0, le=3600)] = 10
    max_upload_bytes: Annotated[int, Field(ge=1)] = 5 * 1024 * MiB
    upload_part_bytes: Annotated[int, Field(ge=5 * MiB, le=5 * 1024 * MiB)] = 8 * MiB
    tenant: str = "default"  # with CHUTE_AUTH=none, every caller is this tenant
    # keys, jwt, or both (comma-separated); `none` turns authentication off (local only).
    auth: CommaList = Field(default_factory=lambda: ["keys"])
    api_keys_file: Path | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_jwks_url: str | None = None
    jwt_algorithms: CommaList = Field(default_factory=lambda: ["RS256", "ES256"])
    jwt_tenant_claim: str = "tenant"
    jwt_leeway_seconds: Annotated[float, Field(ge=0, le=300)] = 30.0
    # Each tenant's budget for the whole API (0: unlimited); each of CHUTE_API_REPLICAS
    # replicas enforces its share.
    rate_uploads_per_second: Annotated[float, Field(ge=0)] = 50.0
    rate_uploads_burst: Annotated[int, Field(ge=1)] = 100
    rate_reads_per_second: Annotated[float, Field(ge=0)] = 100.0
    rate_reads_burst: Annotated[int, Field(ge=1)] = 200
    api_replicas: Annotated[int, Field(ge=1, le=1000)] = 1
    result_url_seconds: Annotated[int, Field(ge=1, le=7 * 24 * 3600)] = 300
    tenants_file: Path | None = None  # per-tenant limits (chute_api.tenants)
    presign_seconds: Annotated[int, Field(ge=1, le=7 * 24 * 3600)] = 3600
    presign_post_max_bytes: Annotated[int, Field(ge=1, le=5 * 1024 * MiB)] = 100 * MiB
    presign_part_bytes: Annotated[int, Field(ge=5 * MiB, le=5 * 1024 * MiB)] = 16 * MiB
    upload_idle_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    # tus: an unfinished upload expires this long after its creation (Upload-Expires); at
    # most a day, when the bucket's lifecycle rule aborts a multipart upload anyway.
    tus_expire_seconds: Annotated[int, Field(ge=1, le=24 * 3600)] = 24 * 3600
    # tus: the lock a PATCH holds on its upload, renewed while the body streams; a
    # replica that dies mid-PATCH blocks the upload (423) at most this long.
    tus_lock_seconds: Annotated[float, Field(ge=1, le=600)] = 10.0
    # The replica's memory for upload buffers (upload_budget.py): each streamed upload
    # reserves 1.25 parts (less for a small declared body) before its body is read. When
    # none is free within CHUTE_API_UPLOAD_WAIT_SECONDS: 503 server-busy, Retry-After.
    api_upload_memory_bytes: Annotated[int, Field(ge=MiB)] = 160 * MiB
    api_upload_wait_seconds: Annotated[float, Field(ge=0, le=60)] = 2.0
    api_busy_retry_after_seconds: Annotated[int, Field(ge=1, le=3600)] = 2
    # Readiness fails while the budget has had no room for one large upload this long.
    api_busy_unready_seconds: Annotated[float, Field(ge=0, le=3600)] = 5.0
    # Signs list cursors; every replica must share it (unset: random per process).
    cursor_secret: SecretStr | None = None
    # The processors an upload may ask for by name (?processors=a,b); the workers must
    # have them installed. Without the parameter, workers route by content type.
    upload_processors: CommaList = Field(
        default_factory=lambda: ["inspect", "thumbnail", "archive", "tabular"]
    )

    @model_validator(mode="after")
    def _replicas_share_a_cursor_secret(self) -> ApiSettings:
        # Each replica would sign cursors with its own random key and refuse the others'.
        if self.api_replicas > 1 and self.cursor_secret is None:
            raise ValueError("CHUTE_CURSOR_SECRET is required when CHUTE_API_REPLICAS > 1")
        return self

    @model_validator(mode="after")
    def _auth_is_complete(self) -> ApiSettings:
        modes = set(self.auth)
        valid = modes <= {"keys", "jwt", "none"} and not ("none" in modes and len(modes) > 1)
        if not modes or not valid:
            raise ValueError("CHUTE_AUTH must be keys, jwt, keys,jwt or none")
        if "keys" in modes and self.api_keys_file is None:
            raise ValueError("CHUTE_API_KEYS_FILE is required when CHUTE_AUTH includes keys")
        if "jwt" in modes:
            missing = [
                f"CHUTE_{name.upper()}"
                for name in ("jwt_issuer", "jwt_audience", "jwt_jwks_url")
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError(f"CHUTE_AUTH=jwt needs {', '.join(missing)}")
            weak = [a for a in self.jwt_algorithms if a.lower() == "none" or a.startswith("HS")]
            unknown = [a for a in self.jwt_algorithms if a not in ASYMMETRIC_ALGORITHMS]
            if weak or unknown:
                raise ValueError(
                    f"CHUTE_JWT_ALGORITHMS: {(weak or unknown)[0]} is not allowed; "
                    f"use asymmetric algorithms ({', '.join(sorted(ASYMMETRIC_ALGORITHMS))})"
                )
        return self


ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
