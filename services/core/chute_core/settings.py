"""Settings, one class per concern, all read from CHUTE_* environment variables."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from chute_core.errors import SettingsError

__all__ = [
    "CONFIG",
    "ApiSettings",
    "AwsSettings",
    "ClientSettings",
    "CommaInts",
    "CommaList",
    "DevSettings",
    "PipelineSettings",
    "WebhookSettings",
    "WorkerSettings",
    "load",
]

_PREFIX = "CHUTE_"
_CONFIG = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore", frozen=True)
CONFIG = _CONFIG  # for settings classes of processors and plugins
MiB = 1024 * 1024
Port = Annotated[int, Field(ge=1, le=65535)]


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


# A list read from one variable as comma-separated items: CHUTE_X=a,b,c
CommaList = Annotated[list[str], NoDecode, BeforeValidator(_split_commas)]
CommaInts = Annotated[list[int], NoDecode, BeforeValidator(_split_commas)]


class LogSettings(BaseSettings):
    """How much the services log (JSON lines on stdout)."""

    model_config = _CONFIG

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class AwsSettings(BaseSettings):
    """Where the AWS clients point. Credentials always come from the standard AWS chain."""

    model_config = _CONFIG

    region: str = "us-east-1"
    aws_endpoint_url: str | None = None
    aws_max_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    aws_max_pool_connections: Annotated[int, Field(ge=1, le=1000)] = 64


class PipelineSettings(BaseSettings):
    """The names of the pipeline's resources and the rules they share."""

    model_config = _CONFIG

    bucket: str = "chute-uploads"
    topic: str = "chute-events"
    queue: str = "chute-jobs"
    dlq: str | None = None
    table: str = "chute-jobs"
    incoming_prefix: str = "incoming/"
    results_prefix: str = "results/"
    visibility_timeout_seconds: Annotated[int, Field(ge=1, le=43200)] = 60
    max_receive_count: Annotated[int, Field(ge=1, le=1000)] = 5
    job_ttl_days: Annotated[int, Field(ge=1, le=3650)] = 30

    @field_validator("incoming_prefix", "results_prefix")
    @classmethod
    def _prefix_ends_with_slash(cls, value: str) -> str:
        if not value or not value.endswith("/") or value.startswith("/"):
            raise ValueError("must be a key prefix such as 'incoming/'")
        return value

    @property
    def dlq_name(self) -> str:
        return self.dlq or f"{self.queue}-dlq"

    @model_validator(mode="after")
    def _prefixes_do_not_overlap(self) -> PipelineSettings:
        # Results under the notification prefix would trigger the pipeline on its own output.
        a, b = self.incoming_prefix, self.results_prefix
        if a.startswith(b) or b.startswith(a):
            raise ValueError("CHUTE_RESULTS_PREFIX must not overlap CHUTE_INCOMING_PREFIX")
        return self


class ApiSettings(BaseSettings):
    model_config = _CONFIG

    api_host: str = "127.0.0.1"
    api_port: Port = 8000
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
    tenants_file: Path | None = None  # per-tenant limits (chute_core.tenants)
    presign_seconds: Annotated[int, Field(ge=1, le=7 * 24 * 3600)] = 3600
    presign_post_max_bytes: Annotated[int, Field(ge=1, le=5 * 1024 * MiB)] = 100 * MiB
    presign_part_bytes: Annotated[int, Field(ge=5 * MiB, le=5 * 1024 * MiB)] = 16 * MiB
    upload_idle_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    # Signs list cursors; every replica must share it (unset: random per process).
    cursor_secret: SecretStr | None = None
    # The processors an upload may ask for by name (?processors=a,b); the workers must
    # have them installed. Without the parameter, workers route by content type.
    upload_processors: CommaList = Field(
        default_factory=lambda: ["inspect", "thumbnail", "archive", "tabular"]
    )

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


ARCHIVES = ["inspect", "archive"]
TABLES = ["inspect", "tabular"]
DEFAULT_ROUTES: dict[str, list[str]] = {
    "image/*": ["inspect", "thumbnail"],
    "application/zip": ARCHIVES,
    "application/x-tar": ARCHIVES,
    "application/gzip": ARCHIVES,
    "text/csv": TABLES,
    "text/tab-separated-values": TABLES,
    "application/x-ndjson": TABLES,
    "*/*": ["inspect"],
}


class WorkerSettings(BaseSettings):
    model_config = _CONFIG

    worker_concurrency: Annotated[int, Field(ge=1, le=1000)] = 8
    worker_health_host: str = "127.0.0.1"
    worker_health_port: Port = 8001
    # content-type pattern -> processors, in order; exact types win over type/*, then */*.
    # Items are processor names or module:attr references.
    worker_routes: dict[str, list[str]] = Field(default_factory=lambda: dict(DEFAULT_ROUTES))
    worker_pool_size: Annotated[int, Field(ge=1, le=64)] = 2
    worker_pool_memory_bytes: Annotated[int, Field(ge=0)] = 1024 * MiB  # per process; 0: none
    worker_spool_dir: Path | None = None
    worker_spool_bytes: Annotated[int, Field(ge=MiB)] = 4 * 1024 * MiB
    worker_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    worker_wait_seconds: Annotated[int, Field(ge=0, le=20)] = 20
    shutdown_grace_seconds: Annotated[float, Field(ge=0)] = 30.0
    retry_base_seconds: Annotated[float, Field(gt=0)] = 2.0
    retry_max_seconds: Annotated[float, Field(gt=0, le=43200)] = 300.0
    worker_one_batch: bool = False  # receive one batch, finish it, exit (KEDA ScaledJob)
    queue_poll_seconds: Annotated[float, Field(gt=0, le=300)] = 5.0
    delete_batch_wait_seconds: Annotated[float, Field(ge=0, le=1)] = 0.1


class DevSettings(BaseSettings):
    model_config = _CONFIG

    moto_port: Port = 5000
    api_port: Port = 8000
    worker_health_port: Port = 8001
    dev_ready_timeout_seconds: Annotated[float, Field(gt=0)] = 60.0
    dev_api_key: SecretStr | None = None  # fixes the development key's value
    api_keys_file: Path | None = None  # chute dev adds its key here (more tenants welcome)


class WebhookSettings(BaseSettings):
    """Callbacks to clients when a job is terminal (API checks, worker delivers)."""

    model_config = _CONFIG

    webhook_secret: SecretStr | None = None  # unset: callback_url is refused
    webhook_allow_http: bool = False
    webhook_allow_private: bool = False  # loopback, private, link-local targets
    webhook_max_seconds: Annotated[float, Field(gt=0, le=86400)] = 3600.0
    webhook_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 10.0


class ClientSettings(BaseSettings):
    model_config = _CONFIG

    api_url: str = "http://127.0.0.1:8000"
    api_key: SecretStr | None = None

    def headers(self) -> dict[str, str]:
        """The credentials every client request carries."""
        if self.api_key is None:
            return {}
        return {"Authorization": f"Bearer {self.api_key.get_secret_value()}"}


S = TypeVar("S", bound=BaseSettings)


def load(cls: type[S]) -> S:
    """Build one settings class from the environment, or raise a one-line SettingsError."""
    try:
        return cls()
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = error["loc"]
        if not loc:  # a cross-field rule: its message names the variables itself
            raise SettingsError(str(error["msg"]).removeprefix("Value error, ")) from None
        raise SettingsError(f"{_PREFIX}{str(loc[0]).upper()}: {error['msg']}") from None
