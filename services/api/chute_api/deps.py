"""Annotated dependency aliases, one place for all of them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request, Response, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from chute_api.auth.authenticator import Authenticator
from chute_api.cursors import CursorCodec
from chute_api.idempotency import IdempotencyStore
from chute_api.rate_limit import RateLimiter
from chute_api.settings import ApiSettings
from chute_api.tenants import TenantBook
from chute_core.job_store import JobStore
from chute_core.keys import ObjectKeys
from chute_core.settings import PipelineSettings, WebhookSettings

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_sqs import SQSClient

__all__ = ["ReadTenantDep", "Runtime", "RuntimeDep", "TenantDep", "UploadTenantDep"]


@dataclass(frozen=True)
class Runtime:
    """What the lifespan opened, shared by every request."""

    api: ApiSettings
    pipeline: PipelineSettings
    keys: ObjectKeys
    s3: S3Client
    sqs: SQSClient
    queue_url: str
    dynamodb: DynamoDBClient
    jobs: JobStore
    auth: Authenticator
    cursors: CursorCodec
    idempotency: IdempotencyStore
    webhooks: WebhookSettings
    tenants: TenantBook
    upload_limit: RateLimiter
    read_limit: RateLimiter


async def _runtime(request: Request) -> Runtime:
    # async: FastAPI runs a plain `def` dependency in a worker thread, per request.
    runtime: Runtime = request.app.state.runtime
    return runtime


# Declared for the OpenAPI document (security schemes); the Authenticator reads the
# headers itself so that it alone decides between keys and tokens.
_BEARER = HTTPBearer(auto_error=False, description="An API key or an OIDC access token (JWT)")
_API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")


async def _tenant(
    request: Request,
    runtime: Annotated[Runtime, Depends(_runtime)],
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
    _key: Annotated[str | None, Security(_API_KEY)],
) -> str:
    """The caller's tenant from its API key or token; 401/403 otherwise."""
    return await runtime.auth.tenant(request)


def _limited(pick: Callable[[Runtime], RateLimiter]) -> Callable[..., Awaitable[str]]:
    async def tenant_within_budget(
        response: Response,
        runtime: Annotated[Runtime, Depends(_runtime)],
        tenant: Annotated[str, Depends(_tenant)],
    ) -> str:
        limiter = pick(runtime)
        if limiter.enabled:
            response.headers.update(limiter.take(tenant).headers())
        return tenant

    return tenant_within_budget


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
TenantDep = Annotated[str, Depends(_tenant)]
# The caller's tenant, after spending one token of its upload or read budget (429 if none).
UploadTenantDep = Annotated[str, Depends(_limited(lambda r: r.upload_limit))]
ReadTenantDep = Annotated[str, Depends(_limited(lambda r: r.read_limit))]
