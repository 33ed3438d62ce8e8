"""Authentication: API keys from a reloadable file and OIDC JWTs, each to a tenant;
tenants never see each other's jobs."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from chute_api.api_keys import KeyFile, new_key
from tests.conftest import ServerFactory
from tests.support.oidc import AUDIENCE, ISSUER, Issuer, serve_issuer
from tests.support.polling import wait_until
from tests.support.processes import Server
from tests.support.stack import Stack


@dataclass
class Secured:
    stack: Stack
    api: Server
    issuer: Issuer
    keys: KeyFile
    key_a: str
    key_b: str


@pytest.fixture(scope="module")
def secured(
    module_stack: Stack, module_servers: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Secured]:
    keys = KeyFile(tmp_path_factory.mktemp("auth") / "keys.yaml")
    key_a, key_b = new_key(), new_key()
    keys.add("tenant-a", key_a)
    keys.add("tenant-b", key_b)
    with serve_issuer() as issuer:
        api = module_servers(
            "api",
            module_stack,
            CHUTE_AUTH="keys,jwt",
            CHUTE_API_KEYS_FILE=str(keys.path),
            CHUTE_JWT_ISSUER=ISSUER,
            CHUTE_JWT_AUDIENCE=AUDIENCE,
            CHUTE_JWT_JWKS_URL=f"{issuer.url}/jwks.json",
        )
        yield Secured(module_stack, api, issuer, keys, key_a, key_b)


def _bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def _upload(s: Secured, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{s.api.url}/v1/uploads", content=b"hello", headers=headers, timeout=30)


def _v1_requests(api_url: str) -> list[tuple[str, str]]:
    """Every /v1 operation of the live OpenAPI document, with a concrete path; but tus's
    OPTIONS, its unauthenticated discovery request (as in tusd)."""
    spec = httpx.get(f"{api_url}/openapi.json").json()
    found = []
    for path, operations in spec["paths"].items():
        if path.startswith("/v1"):
            concrete = (
                path.replace("{job_id}", "0190a000-0000-7000-8000-000000000000")
                .replace("{upload_id}", "an-upload")
                .replace("{part_number}", "1")
            )
            found += [
                (method.upper(), concrete)
                for method in operations
                if not (method == "options" and path.startswith("/v1/tus"))
            ]
    return found


def test_every_v1_route_without_credentials_is_401_with_a_challenge(secured: Secured) -> None:
    requests = _v1_requests(secured.api.url)
    assert len(requests) >= 2
    for method, path in requests:
        r = httpx.request(
            method, f"{secured.api.url}{path}", content=b"x", headers={"Tus-Resumable": "1.0.0"}
        )
        assert r.status_code == 401, (method, path, r.text)
        assert r.headers["www-authenticate"].startswith('Bearer realm="chute"')
        if method != "HEAD":  # a HEAD answer has no body
            assert r.json()["type"] == "urn:chute:problem:unauthorized"


def test_health_readiness_and_metrics_need_no_credentials(secured: Secured) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(f"{secured.api.url}{path}").status_code == 200


def test_wrong_key_is_401_and_valid_keys_work_in_both_headers(secured: Secured) -> None:
    wrong = _upload(secured, _bearer(new_key()))
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
    assert _upload(secured, _bearer(secured.key_a)).status_code == 202
    assert _upload(secured, {"X-API-Key": secured.key_b}).status_code == 202


def test_valid_jwt_works_and_its_tenant_claim_is_the_tenant(secured: Secured) -> None:
    token = secured.issuer.token("tenant-a")
    r = _upload(secured, _bearer(token))
    assert r.status_code == 202, r.text
    job = httpx.get(r.json()["status_url"], headers=_bearer(secured.key_a)).json()
    assert job["tenant"] == "tenant-a"


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["tenant"] = "tenant-b"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _unsigned(issuer: Issuer) -> str:
    valid = issuer.token("tenant-a")
    _, payload, _ = valid.split(".")
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT","kid":"k1"}').rstrip(b"=")
    return f"{header.decode()}.{payload}."


def _hs256_with_public_key(issuer: Issuer) -> str:
    """The classic confusion: HMAC keyed with the issuer's public key."""
    from cryptography.hazmat.primitives import serialization

    public = (
        issuer.keys["k1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    import hashlib
    import hmac

    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT","kid":"k1"}').rstrip(b"=")
    _, payload, _ = issuer.token("tenant-a").split(".")
    signing_input = header + b"." + payload.encode()
    mac = hmac.new(public, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()


@pytest.mark.parametrize(
    "broken",
    [
        "expired",
        "wrong-audience",
        "wrong-issuer",
        "not-yet-valid",
        "alg-none",
        "tampered",
        "hs256-confusion",
        "garbage",
    ],
)
def test_broken_jwts_are_401(secured: Secured, broken: str) -> None:
    issuer = secured.issuer
    token = {
        "expired": lambda: issuer.token(exp=1_600_000_000, iat=1_599_999_000, nbf=1_599_999_000),
        "wrong-audience": lambda: issuer.token(aud="someone-else"),
        "wrong-issuer": lambda: issuer.token(iss="https://evil.test"),
        "not-yet-valid": lambda: issuer.token(nbf=4_000_000_000),
        "alg-none": lambda: _unsigned(issuer),
        "tampered": lambda: _tampered(issuer.token("tenant-a")),
        "hs256-confusion": lambda: _hs256_with_public_key(issuer),
        "garbage": lambda: "aaa.bbb.ccc",
    }[broken]()
    r = _upload(secured, _bearer(token))
    assert r.status_code == 401, (broken, r.text)
    assert r.json()["type"] == "urn:chute:problem:unauthorized"


def test_valid_jwt_without_a_tenant_claim_is_403(secured: Secured) -> None:
    r = _upload(secured, _bearer(secured.issuer.token(tenant=None)))
    assert r.status_code == 403
    assert r.json()["type"] == "urn:chute:problem:forbidden"


def test_a_key_rotated_in_at_the_issuer_is_fetched_on_first_sight(secured: Secured) -> None:
    secured.issuer.add_key("k2", "ec")
    token = secured.issuer.token("tenant-b", kid="k2", algorithm="ES256")
    # Unknown kids refetch the JWKS at most once a second: accepted within that.
    wait_until(
        lambda: _upload(secured, _bearer(token)).status_code == 202,
        timeout=5,
        interval=0.25,
        what="a token of the rotated-in key accepted",
    )


def test_rsa_algorithm_on_an_ec_key_is_refused(secured: Secured) -> None:
    secured.issuer.add_key("k3", "ec")
    valid = secured.issuer.token("tenant-a", kid="k3", algorithm="ES256")
    wait_until(  # the API knows the key now
        lambda: _upload(secured, _bearer(valid)).status_code == 202, timeout=5, interval=0.25
    )
    _, payload, signature = valid.split(".")
    header = base64.urlsafe_b64encode(b'{"alg":"RS256","typ":"JWT","kid":"k3"}').rstrip(b"=")
    r = _upload(secured, _bearer(f"{header.decode()}.{payload}.{signature}"))
    assert r.status_code == 401
    assert "RS256 does not fit a EC key" in r.json()["detail"]


def test_keys_file_changes_apply_without_restart(secured: Secured, tmp_path: Path) -> None:
    fresh = new_key()
    digest = secured.keys.add("tenant-c", fresh)
    wait_until(
        lambda: _upload(secured, _bearer(fresh)).status_code == 202,
        timeout=10,
        interval=0.2,
        what="a new key accepted",
    )
    secured.keys.revoke(digest[:12])
    wait_until(
        lambda: _upload(secured, _bearer(fresh)).status_code == 401,
        timeout=10,
        interval=0.2,
        what="a revoked key refused",
    )


def test_another_tenants_job_is_404_exactly_like_an_unknown_one(secured: Secured) -> None:
    accepted = _upload(secured, _bearer(secured.key_a)).json()
    mine = httpx.get(accepted["status_url"], headers=_bearer(secured.key_a))
    assert mine.status_code == 200
    theirs = httpx.get(accepted["status_url"], headers=_bearer(secured.key_b))
    unknown_url = accepted["status_url"].rsplit("/", 1)[0] + "/0190a000-0000-7000-8000-000000000000"
    unknown = httpx.get(unknown_url, headers=_bearer(secured.key_b))
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["type"] == unknown.json()["type"] == "urn:chute:problem:not-found"
    assert theirs.json().keys() == unknown.json().keys()


def _fresh_tenant(s: Secured, tenant: str) -> dict[str, str]:
    key = new_key()
    s.keys.add(tenant, key)
    headers = _bearer(key)
    wait_until(
        lambda: httpx.get(f"{s.api.url}/v1/jobs", headers=headers).status_code == 200,
        timeout=10,
        interval=0.2,
        what=f"key of {tenant} accepted",
    )
    return headers


def _pages(s: Secured, headers: dict[str, str], **params: str) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = httpx.get(f"{s.api.url}/v1/jobs", params=query, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append([j["job_id"] for j in body["jobs"]])
        cursor = body.get("next_cursor")
        if not cursor:
            return pages


def test_listing_pages_through_only_the_callers_jobs_newest_first(secured: Secured) -> None:
    mine = _fresh_tenant(secured, "lister-a")
    theirs = _fresh_tenant(secured, "lister-b")
    uploaded = [_upload(secured, mine).json()["job_id"] for _ in range(5)]
    other = _upload(secured, theirs).json()["job_id"]
    pages = _pages(secured, mine, limit="2")
    listed = [job for page in pages for job in page]
    assert listed == list(reversed(uploaded))  # UUIDv7 ids and created_at agree on order
    assert all(len(page) <= 2 for page in pages)
    assert other not in listed
    assert [j for p in _pages(secured, theirs) for j in p] == [other]


def test_listing_filters_by_state(secured: Secured) -> None:
    headers = _fresh_tenant(secured, "lister-c")
    job_id = _upload(secured, headers).json()["job_id"]
    queued = [j for p in _pages(secured, headers, state="QUEUED", limit="1") for j in p]
    failed = [j for p in _pages(secured, headers, state="FAILED") for j in p]
    assert queued == [job_id]
    assert failed == []
    bad = httpx.get(f"{secured.api.url}/v1/jobs", params={"state": "DONE"}, headers=headers)
    assert bad.status_code == 400


def test_forged_or_foreign_cursors_are_400(secured: Secured) -> None:
    mine = _fresh_tenant(secured, "lister-d")
    theirs = _fresh_tenant(secured, "lister-e")
    for _ in range(3):
        _upload(secured, mine)
    first = httpx.get(f"{secured.api.url}/v1/jobs", params={"limit": "1"}, headers=mine).json()
    cursor = first["next_cursor"]
    payload, mac = cursor.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["t"] = "lister-e"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    attempts = {
        "forged tenant": (theirs, f"{forged_payload}.{mac}"),
        "someone else's cursor": (theirs, cursor),
        "other filter": (mine, cursor, "SUCCEEDED"),
        "garbage": (mine, "not-a-cursor"),
    }
    for what, (headers, bad, *state) in attempts.items():
        params = {"cursor": bad, **({"state": state[0]} if state else {})}
        r = httpx.get(f"{secured.api.url}/v1/jobs", params=params, headers=headers)
        assert r.status_code == 400, (what, r.text)
        assert r.json()["type"] == "urn:chute:problem:invalid-cursor", what


def test_another_tenant_cannot_read_download_cancel_or_list_a_job(secured: Secured) -> None:
    owner, intruder = _bearer(secured.key_a), _bearer(secured.key_b)
    accepted = _upload(secured, owner).json()
    job_id, url = accepted["job_id"], accepted["status_url"]
    before = httpx.get(url, headers=owner).json()
    for method, path in (("GET", url), ("GET", f"{url}/result"), ("DELETE", url)):
        r = httpx.request(method, path, headers=intruder)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["type"] == "urn:chute:problem:not-found"
    listed = httpx.get(f"{secured.api.url}/v1/jobs", params={"limit": "100"}, headers=intruder)
    assert job_id not in [j["job_id"] for j in listed.json()["jobs"]]
    assert httpx.get(url, headers=owner).json() == before  # nothing changed
    assert secured.stack.keys(f"incoming/tenant-a/{job_id}") == [f"incoming/tenant-a/{job_id}"]
    # The intruder's own upload lands under its own tenant, whatever it sends.
    theirs = _upload(secured, intruder).json()["job_id"]
    assert secured.stack.keys(f"incoming/tenant-b/{theirs}") == [f"incoming/tenant-b/{theirs}"]
