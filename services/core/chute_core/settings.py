"""Settings, one class per concern, all read from CHUTE_* environment variables."""

from __future__ import annotations

import re
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
from pydantic_settings import SettingsError as SourceError

from chute_core.errors import SettingsError
from chute_core.pools import POOL_NAME, PoolRoute, Pools, PoolSpec

__all__ = [
    "CONFIG",
    "AwsSettings",
    "CommaInts",
    "CommaList",
    "MiB",
    "PipelineSettings",
    "Port",
    "WebhookSettings",
    "load",
]

_PREFIX = "CHUTE_"
_CONFIG = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore", frozen=True)
CONFIG = _CONFIG  # for every settings class outside this module (services, processors)
MiB = 1024 * 1024
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
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
    # DynamoDB at an endpoint of its own (DynamoDB Local, a second local AWS process);
    # unset: CHUTE_AWS_ENDPOINT_URL, like every other service.
    dynamodb_endpoint_url: str | None = None
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
    # Where a tus upload keeps its bytes short of one S3 part between requests; outside
    # the notification prefix, so that a tail never looks like an upload.
    partial_prefix: str = "partial/"
    visibility_timeout_seconds: Annotated[int, Field(ge=1, le=43200)] = 60
    max_receive_count: Annotated[int, Field(ge=1, le=1000)] = 5
    job_ttl_days: Annotated[int, Field(ge=1, le=3650)] = 30
    # When a job that nothing has moved becomes overdue for the reconciler: a QUEUED job
    # after this long, any other deadline (upload deadline, tus expiry, lease) after its
    # grace. It must exceed the API's upload idle timeout (a live stream sends a part at
    # least that often) and should exceed how long a message normally waits in the queue.
    stuck_after_seconds: Annotated[float, Field(ge=1, le=86400)] = 600.0
    overdue_grace_seconds: Annotated[float, Field(ge=0, le=86400)] = 60.0
    # Seconds between polls of the queues' depth (API and worker; the gauges and alerts).
    queue_poll_seconds: Annotated[float, Field(gt=0, le=300)] = 5.0
    # Web origins that may upload from a browser: the bucket's CORS rules (bootstrap)
    # and the API's CORS answers both come from this list. Empty: no browser access.
    cors_origins: CommaList = Field(default_factory=list)
    # Worker pools (chute_core.pools), JSON: {"images": {"queue": "chute-images"}} and
    # [{"pool": "images", "content_types": ["image/*"]}]. Unset: one pool, `default`.
    pools: dict[Annotated[str, Field(pattern=POOL_NAME)], PoolSpec] = Field(default_factory=dict)
    pool_routes: list[PoolRoute] = Field(default_factory=list)

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not _ORIGIN.match(origin):
                raise ValueError(
                    f"{origin!r} is not an origin: scheme://host[:port], no path, no '*'"
                )
        return value

    @field_validator("incoming_prefix", "results_prefix", "partial_prefix")
    @classmethod
    def _prefix_ends_with_slash(cls, value: str) -> str:
        if not value or not value.endswith("/") or value.startswith("/"):
            raise ValueError("must be a key prefix such as 'incoming/'")
        return value

    @property
    def dlq_name(self) -> str:
        return self.dlq or f"{self.queue}-dlq"

    def pool_set(self) -> Pools:
        """The pools, checked (the settings were refused at start if they do not check)."""
        return Pools(
            self.pools,
            self.pool_routes,
            queue=self.queue,
            dlq=self.dlq_name,
            visibility_timeout_seconds=self.visibility_timeout_seconds,
            max_receive_count=self.max_receive_count,
        )

    @model_validator(mode="after")
    def _pools_check(self) -> PipelineSettings:
        try:
            self.pool_set()
        except ValueError as exc:
            raise ValueError(f"CHUTE_POOLS / CHUTE_POOL_ROUTES: {exc}") from None
        return self

    @model_validator(mode="after")
    def _prefixes_do_not_overlap(self) -> PipelineSettings:
        # Results under the notification prefix would trigger the pipeline on its own output.
        a = self.incoming_prefix
        for name, b in (("RESULTS", self.results_prefix), ("PARTIAL", self.partial_prefix)):
            if a.startswith(b) or b.startswith(a):
                raise ValueError(f"CHUTE_{name}_PREFIX must not overlap CHUTE_INCOMING_PREFIX")
        return self


class WebhookSettings(BaseSettings):
    """Callbacks to clients when a job is terminal (API checks, worker delivers)."""

    model_config = _CONFIG

    webhook_secret: SecretStr | None = None  # unset: callback_url is refused
    webhook_allow_http: bool = False
    webhook_allow_private: bool = False  # loopback, private, link-local targets
    webhook_max_seconds: Annotated[float, Field(gt=0, le=86400)] = 3600.0
    webhook_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 10.0


S = TypeVar("S", bound=BaseSettings)


def load(cls: type[S]) -> S:
    """Build one settings class from the environment, or raise a one-line SettingsError."""
    try:
        return cls()
    except SourceError as exc:  # a JSON-valued variable that is not JSON
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"{_PREFIX}{field.group(1).upper()}" if field else str(exc)
        raise SettingsError(f"{name}: not valid JSON") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = error["loc"]
        if not loc:  # a cross-field rule: its message names the variables itself
            raise SettingsError(str(error["msg"]).removeprefix("Value error, ")) from None
        where = ".".join(str(part) for part in loc[1:])
        detail = f"{where}: {error['msg']}" if where else error["msg"]
        raise SettingsError(f"{_PREFIX}{str(loc[0]).upper()}: {detail}") from None
