"""Annotated dependency aliases, one place for all of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from chute_api.auth.authenticator import Authenticator
from chute_api.cursors import CursorCodec
from chute_api.idempotency import IdempotencyStore
from chute_core.job_store import JobStore
from chute_core.keys import ObjectKeys
from chute_core.settings import ApiSettings, PipelineSettings

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_s3 import S3Client

__all__ = ["Runtime", "RuntimeDep", "TenantDep"]


@dataclass(frozen=True)
class Runtime:
    """What the lifespan opened, shared by every request."""

    api: ApiSettings
    pipeline: PipelineSettings
    keys: ObjectKeys
    s3: S3Client
    dynamodb: DynamoDBClient
    jobs: JobStore
    auth: Authenticator
    cursors: CursorCodec
    idempotency: IdempotencyStore


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _tenant(request: Request, runtime: Annotated[Runtime, Depends(_runtime)]) -> str:
    """The caller's tenant from its API key or token; 401/403 otherwise."""
    return await runtime.auth.tenant(request)


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
TenantDep = Annotated[str, Depends(_tenant)]
