"""The worker's settings (CHUTE_* variables read by `chute worker`)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings

from chute_core.pools import DEFAULT_POOL
from chute_core.settings import CONFIG, MiB, Port

__all__ = ["DEFAULT_ROUTES", "WorkerSettings"]

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
    model_config = CONFIG

    # Which of the pipeline's pools (CHUTE_POOLS) this worker serves: its queue, DLQ and
    # limits; an event for another pool's key is dead-lettered (`wrong_pool`).
    pool: str = DEFAULT_POOL
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
    delete_batch_wait_seconds: Annotated[float, Field(ge=0, le=1)] = 0.1
