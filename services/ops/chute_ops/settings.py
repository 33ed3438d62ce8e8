"""Settings of the operator tooling: the dev stack and the client commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from chute_core.settings import CONFIG, Port

__all__ = ["ClientSettings", "DevSettings", "ReconcilerSettings"]


class DevSettings(BaseSettings):
    model_config = CONFIG

    moto_port: Port = 5000
    api_port: Port = 8000
    worker_health_port: Port = 8001
    dev_ready_timeout_seconds: Annotated[float, Field(gt=0)] = 60.0
    dev_reconcile_seconds: Annotated[float, Field(ge=1)] = 30.0  # chute dev's reconciler pass
    dev_api_key: SecretStr | None = None  # fixes the development key's value
    api_keys_file: Path | None = None  # chute dev adds its key here (more tenants welcome)


class ReconcilerSettings(BaseSettings):
    """`chute reconcile` (docs/reliability.md, "The reconciler")."""

    model_config = CONFIG

    reconcile_batch: Annotated[int, Field(ge=1, le=100_000)] = 1000  # jobs per pass, at most
    # A job whose event was re-sent this many times and still did not arrive fails
    # (`event_lost`); between tries the reconciler waits stuck-after x 2^tries.
    reconcile_max_republish: Annotated[int, Field(ge=1, le=20)] = 5
    reconciler_metrics_port: Port | None = None  # --every: serve /metrics here
    reconciler_pushgateway: str | None = None  # --once: push the pass's metrics here


class ClientSettings(BaseSettings):
    model_config = CONFIG

    api_url: str = "http://127.0.0.1:8000"
    api_key: SecretStr | None = None

    def headers(self) -> dict[str, str]:
        """The credentials every client request carries."""
        if self.api_key is None:
            return {}
        return {"Authorization": f"Bearer {self.api_key.get_secret_value()}"}
