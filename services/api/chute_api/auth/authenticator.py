"""Turn a request's credentials into a tenant, or refuse it (401/403).

Credentials: `X-API-Key: <key>`, or `Authorization: Bearer <key or JWT>`. A bearer value
shaped like a JWT (three dot-separated parts) goes to the JWT verifier when JWTs are
enabled; anything else is looked up as an API key."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from starlette.requests import Request

from chute_api.api_keys import KeyRing
from chute_api.auth.tokens import BadToken, JwtVerifier, TokenNotAllowed
from chute_api.errors import Forbidden, Unauthorized
from chute_api.settings import ApiSettings

__all__ = ["Authenticator"]


@dataclass(frozen=True)
class Authenticator:
    anonymous_tenant: str | None  # CHUTE_AUTH=none: everyone is this tenant (local only)
    keys: KeyRing | None
    tokens: JwtVerifier | None

    @classmethod
    def from_settings(cls, api: ApiSettings, http: httpx.AsyncClient) -> Authenticator:
        modes = set(api.auth)
        if "none" in modes:
            return cls(anonymous_tenant=api.tenant, keys=None, tokens=None)
        keys = KeyRing(api.api_keys_file) if "keys" in modes and api.api_keys_file else None
        tokens = None
        if "jwt" in modes:
            tokens = JwtVerifier(  # the settings validator made sure these are set
                issuer=api.jwt_issuer or "",
                audience=api.jwt_audience or "",
                jwks_url=api.jwt_jwks_url or "",
                algorithms=list(api.jwt_algorithms),
                tenant_claim=api.jwt_tenant_claim,
                leeway=api.jwt_leeway_seconds,
                http=http,
            )
        return cls(anonymous_tenant=None, keys=keys, tokens=tokens)

    async def tenant(self, request: Request) -> str:
        if self.anonymous_tenant is not None:
            return self.anonymous_tenant
        api_key = request.headers.get("x-api-key")
        authorization = request.headers.get("authorization", "")
        scheme, _, value = authorization.partition(" ")
        bearer = value.strip() if scheme.lower() == "bearer" else None
        if api_key is None and not bearer:
            raise Unauthorized("no credentials: send Authorization: Bearer <key or token>")
        if api_key is None and bearer and bearer.count(".") == 2 and self.tokens is not None:
            try:
                return await self.tokens.tenant_for(bearer)
            except BadToken as exc:
                raise Unauthorized(f"invalid token: {exc}", token_error=True) from None
            except TokenNotAllowed as exc:
                raise Forbidden(str(exc)) from None
        key = api_key if api_key is not None else bearer
        tenant = self.keys.tenant_for(key) if self.keys is not None and key else None
        if tenant is None:
            raise Unauthorized("invalid API key", token_error=True)
        return tenant
