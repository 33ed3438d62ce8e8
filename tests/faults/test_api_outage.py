"""S3 and DynamoDB unreachable for 15 s: every API replica stays ready (readiness is
the process, not AWS), and requests that need AWS get a fast 503 problem document with
Retry-After instead of hanging; after the outage the API serves again by itself."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.polling import wait_until
from tests.support.processes import Server
from tests.support.proxy import tcp_proxy
from tests.support.stack import Stack

OUTAGE_SECONDS = 15.0
FAST_SECONDS = 1.0
REPLICAS = 2


def _checks(api: Server) -> dict[str, str]:
    answer = httpx.get(f"{api.url}/readyz", timeout=5)
    assert answer.status_code == 200, "readiness flipped"
    checks: dict[str, str] = answer.json()["checks"]
    checks.pop("upload_budget")  # reported beside AWS; these tests are about AWS
    return checks


@pytest.mark.parametrize("mode", ["refuse", "blackhole"])
def test_an_aws_outage_keeps_every_replica_ready_and_answers_fast_503s(
    mode: str, stack: Stack, servers: ServerFactory, moto_server: Server
) -> None:
    port = int(moto_server.url.rsplit(":", 1)[1])
    with tcp_proxy(port) as proxy:
        apis = [
            servers("api", stack, CHUTE_AWS_ENDPOINT_URL=proxy.url, CHUTE_QUEUE_POLL_SECONDS="0.5")
            for _ in range(REPLICAS)
        ]
        job_id = httpx.post(f"{apis[0].url}/v1/uploads", content=b"before").json()["job_id"]
        proxy.set_mode(mode)
        started = time.monotonic()
        for api in apis:  # two failed checks in a row, then requests fail fast
            wait_until(
                lambda api=api: httpx.get(f"{api.url}/readyz", timeout=5).json()["fail_fast"],
                timeout=20,
                what="the outage seen",
            )
        answers = []
        while time.monotonic() - started < OUTAGE_SECONDS:  # the outage is the condition
            for api in apis:
                assert _checks(api)  # still ready, every replica
                asked = time.monotonic()
                upload = httpx.post(f"{api.url}/v1/uploads", content=b"during", timeout=30)
                status = httpx.get(f"{api.url}/v1/jobs/{job_id}", timeout=30)
                answers.append((upload, status, time.monotonic() - asked))
            time.sleep(0.5)
        proxy.set_mode("pass")
        for upload, status, seconds in answers:
            for answer in (upload, status):
                assert answer.status_code == 503
                assert answer.headers["retry-after"] == "5"
                assert answer.json()["type"] == "urn:chute:problem:dependency-unavailable"
            assert seconds < 2 * FAST_SECONDS
        for api in apis:
            wait_until(
                lambda api=api: set(_checks(api).values()) == {"ok"},
                timeout=15,
                what="recovery",
            )
            after = httpx.post(f"{api.url}/v1/uploads", content=b"after", timeout=30)
            assert after.status_code == 202
        print(f"{mode}: {len(answers)} requests during the outage, all fast 503s")
