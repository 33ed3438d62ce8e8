"""Per-tenant budgets on a live API: 429 with Retry-After when spent, then refilled."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.polling import wait_until
from tests.support.processes import Server
from tests.support.stack import Stack

UPLOAD_BURST = 3
UPLOADS_PER_SECOND = 2.0


@pytest.fixture(scope="module")
def api(module_stack: Stack, module_servers: ServerFactory) -> Server:
    return module_servers(
        "api",
        module_stack,
        CHUTE_RATE_UPLOADS_PER_SECOND=str(UPLOADS_PER_SECOND),
        CHUTE_RATE_UPLOADS_BURST=str(UPLOAD_BURST),
        CHUTE_RATE_READS_PER_SECOND="100",
        CHUTE_RATE_READS_BURST="200",
    )


def _upload(api: Server) -> httpx.Response:
    return httpx.post(f"{api.url}/v1/uploads", content=b"x", timeout=30)


def test_spent_upload_budget_is_429_with_retry_after_and_refills(api: Server) -> None:
    responses = [_upload(api) for _ in range(UPLOAD_BURST + 2)]
    codes = [r.status_code for r in responses]
    assert codes[0] == 202
    assert 429 in codes, codes
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:chute:problem:rate-limited"
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 2
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.headers["ratelimit-policy"].startswith(f"{UPLOAD_BURST};")
    refused_at = time.monotonic()
    accepted = wait_until(
        lambda: _upload(api).status_code == 202, timeout=10, interval=0.1, what="budget refilled"
    )
    assert accepted
    assert time.monotonic() - refused_at <= retry_after + 1


def test_accepted_requests_carry_ratelimit_headers(api: Server) -> None:
    r = httpx.get(f"{api.url}/v1/jobs")
    assert r.status_code == 200
    assert r.headers["ratelimit-limit"] == "200"
    assert int(r.headers["ratelimit-remaining"]) <= 199


def test_reads_have_their_own_budget(api: Server) -> None:
    codes = [_upload(api).status_code for _ in range(UPLOAD_BURST + 2)]  # spend it
    assert 429 in codes
    assert httpx.get(f"{api.url}/v1/jobs").status_code == 200
