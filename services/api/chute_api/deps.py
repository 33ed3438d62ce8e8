"""What the lifespan opened (`ApiState`), and one `Annotated` alias per piece a route
may ask for: routes name exactly the collaborators they use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request, Response, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from chute_api.auth.authenticator import Authenticator
from chute_api.aws_health import AwsHealth
from chute_api.cursors import CursorCodec
from chute_api.flows.direct import DirectUploads
from chute_api.flows.jobs import JobQueries
from chute_api.flows.streamed import StreamedUploads
from chute_api.flows.tus import TusUploads
from chute_api.idempotency import IdempotencyStore
from chute_api.rate_limit import RateLimiter
from chute_api.settings import ApiSettings
from chute_api.upload_budget import UploadBudget
from chute_api.upload_rules import TenantRules

__all__ = [
    "ApiState",
    "AwsHealthDep",
    "CursorsDep",
    "DirectUploadsDep",
    "IdempotencyDep",
    "JobQueriesDep",
    "ReadTenantDep",
    "RulesDep",
    "SettingsDep",
    "StreamedUploadsDep",
    "TenantDep",
    "TusUploadsDep",
    "UploadBudgetDep",
    "UploadTenantDep",
    "aws_available",
]


@dataclass(frozen=True)
class ApiState:
    """What the lifespan opened, shared by every request (`app.state.chute`)."""

    settings: ApiSettings
    auth: Authenticator
    cursors: CursorCodec
    idempotency: IdempotencyStore
    rules: TenantRules
    streamed: StreamedUploads
    direct: DirectUploads
    tus: TusUploads
    queries: JobQueries
    aws_health: AwsHealth
    upload_limit: RateLimiter
    read_limit: RateLimiter
    upload_budget: UploadBudget


T = TypeVar("T")


def _piece(pick: Callable[[ApiState], T]) -> Callable[[Request], Awaitable[T]]:
    # async: FastAPI runs a plain `def` dependency in a worker thread, per request.
    async def dependency(request: Request) -> T:
        return pick(request.app.state.chute)

    return dependency


SettingsDep = Annotated[ApiSettings, Depends(_piece(lambda s: s.settings))]
CursorsDep = Annotated[CursorCodec, Depends(_piece(lambda s: s.cursors))]
IdempotencyDep = Annotated[IdempotencyStore, Depends(_piece(lambda s: s.idempotency))]
RulesDep = Annotated[TenantRules, Depends(_piece(lambda s: s.rules))]
StreamedUploadsDep = Annotated[StreamedUploads, Depends(_piece(lambda s: s.streamed))]
DirectUploadsDep = Annotated[DirectUploads, Depends(_piece(lambda s: s.direct))]
TusUploadsDep = Annotated[TusUploads, Depends(_piece(lambda s: s.tus))]
JobQueriesDep = Annotated[JobQueries, Depends(_piece(lambda s: s.queries))]
AwsHealthDep = Annotated[AwsHealth, Depends(_piece(lambda s: s.aws_health))]
UploadBudgetDep = Annotated[UploadBudget, Depends(_piece(lambda s: s.upload_budget))]
_AuthDep = Annotated[Authenticator, Depends(_piece(lambda s: s.auth))]

# Declared for the OpenAPI document (security schemes); the Authenticator reads the
# headers itself so that it alone decides between keys and tokens.
_BEARER = HTTPBearer(auto_error=False, description="An API key or an OIDC access token (JWT)")
_API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")


async def _tenant(
    request: Request,
    auth: _AuthDep,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
    _key: Annotated[str | None, Security(_API_KEY)],
) -> str:
    """The caller's tenant from its API key or token; 401/403 otherwise."""
    return await auth.tenant(request)


def _limited(pick: Callable[[ApiState], RateLimiter]) -> Callable[..., Awaitable[str]]:
    async def tenant_within_budget(
        request: Request, response: Response, tenant: Annotated[str, Depends(_tenant)]
    ) -> str:
        limiter = pick(request.app.state.chute)
        if limiter.enabled:
            response.headers.update(limiter.take(tenant).headers())
        return tenant

    return tenant_within_budget


async def aws_available(aws_health: AwsHealthDep) -> None:
    """503 at once while the background check finds S3 or DynamoDB down (routes that
    need AWS declare it on their router)."""
    aws_health.require_available()


TenantDep = Annotated[str, Depends(_tenant)]
# The caller's tenant, after spending one token of its upload or read budget (429 if none).
UploadTenantDep = Annotated[str, Depends(_limited(lambda s: s.upload_limit))]
ReadTenantDep = Annotated[str, Depends(_limited(lambda s: s.read_limit))]
