"""OIDC bearer tokens: the signature is checked against the issuer's JWKS (fetched,
cached, refetched when a token names an unknown `kid`), then `iss`, `aud`, `exp` and
`nbf` with a small leeway. Only allow-listed asymmetric algorithms are accepted and
each must match its key's type, so neither `none` nor HS/RS confusion gets through."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from jwt import PyJWK, PyJWKSet

from chute_core.keys import valid_tenant

__all__ = ["BadToken", "JwtVerifier", "TokenNotAllowed"]

FAMILIES = {"RSA": ("RS", "PS"), "EC": ("ES",), "OKP": ("EdDSA",)}
MIN_REFETCH_SECONDS = 1.0  # unknown kids refetch the JWKS at most this often
MAX_AGE_SECONDS = 600.0


class BadToken(Exception):
    """Not a valid token of our issuer: 401."""


class TokenNotAllowed(Exception):
    """A valid token that grants nothing here (no usable tenant claim): 403."""


@dataclass
class JwtVerifier:
    issuer: str
    audience: str
    jwks_url: str
    algorithms: list[str]
    tenant_claim: str
    leeway: float
    http: httpx.AsyncClient
    _keys: dict[str, PyJWK] = field(default_factory=dict)
    _fetched_at: float = -1e9
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def tenant_for(self, token: str) -> str:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise BadToken(f"malformed token: {exc}") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise BadToken(f"algorithm {alg!r} is not accepted")
        key = await self._key(header.get("kid"))
        kty = key._jwk_data.get("kty", "")
        if not str(alg).startswith(FAMILIES.get(kty, ("-",))):
            raise BadToken(f"algorithm {alg} does not fit a {kty} key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise BadToken(str(exc)) from None
        tenant = claims.get(self.tenant_claim)
        if not isinstance(tenant, str) or not valid_tenant(tenant):
            raise TokenNotAllowed(f"the token has no usable {self.tenant_claim!r} claim")
        return tenant

    async def _key(self, kid: object) -> PyJWK:
        if not isinstance(kid, str):
            raise BadToken("the token names no key (kid)")
        stale = time.monotonic() - self._fetched_at > MAX_AGE_SECONDS
        if kid not in self._keys or stale:
            await self._refetch(force=stale)
        try:
            return self._keys[kid]
        except KeyError:
            raise BadToken(f"unknown signing key {kid!r}") from None

    async def _refetch(self, *, force: bool) -> None:
        async with self._lock:
            if not force and time.monotonic() - self._fetched_at < MIN_REFETCH_SECONDS:
                return  # someone just fetched; do not let bad kids hammer the issuer
            try:
                response = await self.http.get(self.jwks_url, timeout=5)
                response.raise_for_status()
                keyset = PyJWKSet.from_dict(response.json())
            except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
                self._fetched_at = time.monotonic()
                if not self._keys:
                    raise BadToken(f"cannot fetch the issuer's keys: {exc}") from None
                return  # keep the keys we had
            self._keys = {k.key_id: k for k in keyset.keys if k.key_id}
            self._fetched_at = time.monotonic()
