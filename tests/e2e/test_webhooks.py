"""Webhooks: one signed delivery per terminal job to a receiver on localhost, verified
with the recipe of docs/api.md; retries on 5xx; internal and plain-http targets refused."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ServerFactory, StackFactory
from tests.support.jobs_api import get_job, post_file, wait_job
from tests.support.polling import wait_until
from tests.support.processes import REPO, Server, routes
from tests.support.stack import Stack
from tests.support.webhook_receiver import (
    SECRET,
    WEBHOOK_ENV,
    Receiver,
    upload_with_callback,
    webhook_receiver,
)


def _recipe() -> Callable[..., bool]:
    """The verification recipe of docs/api.md, executed as written."""
    page = (REPO / "docs/api.md").read_text()
    match = re.search(r"<!-- webhook-verification-recipe -->\s*```python\n(.*?)```", page, re.S)
    assert match, "docs/api.md lost its webhook verification recipe"
    namespace: dict[str, Any] = {}
    exec(match.group(1), namespace)  # noqa: S102 (our own documentation)
    verify: Callable[..., bool] = namespace["verify_chute_signature"]
    return verify


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as state:
        yield state


def test_each_terminal_job_gets_exactly_one_valid_signed_delivery(
    make_stack: StackFactory, servers: ServerFactory, receiver: Receiver
) -> None:
    stack = make_stack()
    api = servers("api", stack, **WEBHOOK_ENV)
    servers("worker", stack, CHUTE_WORKER_ROUTES=routes("inspect"), **WEBHOOK_ENV)
    ok = [upload_with_callback(api.url, f"ok-{i}.txt", b"fine", receiver.url) for i in range(3)]
    failed = upload_with_callback(api.url, "bad.txt", b"text", receiver.url, processors="thumbnail")
    verify = _recipe()
    for job_id in [*ok, failed]:
        job = wait_until(
            lambda j=job_id: (g := get_job(api.url, j)).get("webhook") and g,
            timeout=60,
            what=f"webhook of {job_id} recorded",
        )
        assert job["webhook"]["outcome"] == "delivered", job["webhook"]
        assert job["webhook"]["attempts"] == 1
        ((headers, body),) = receiver.for_job(job_id)  # exactly one
        assert verify(SECRET.encode(), headers["chute-signature"], body)
        assert not verify(SECRET.encode(), headers["chute-signature"], body.replace(b"}", b" }", 1))
        assert not verify(b"another secret", headers["chute-signature"], body)
        sent = json.loads(body)
        assert sent["job_id"] == job_id
        assert sent["state"] == ("FAILED" if job_id == failed else "SUCCEEDED")
    assert len(receiver.deliveries) == 4


def test_a_5xx_answer_is_retried_and_recorded(
    make_stack: StackFactory, servers: ServerFactory, receiver: Receiver
) -> None:
    stack = make_stack()
    api = servers("api", stack, **WEBHOOK_ENV)
    servers("worker", stack, CHUTE_WORKER_ROUTES=routes("inspect"), **WEBHOOK_ENV)
    job_id = post_file(api.url, "a.txt", b"a")  # no callback: nothing sent
    assert wait_job(api.url, job_id)["state"] == "SUCCEEDED"
    assert "webhook" not in get_job(api.url, job_id)
    retried = upload_with_callback(api.url, "r.txt", b"r", receiver.url + "/fail-once")
    job = wait_until(
        lambda: (g := get_job(api.url, retried)).get("webhook") and g, timeout=60, what="webhook"
    )
    assert job["webhook"]["outcome"] == "delivered"
    assert job["webhook"]["attempts"] == 2
    assert job["webhook"]["last_status"] == 503
    assert len(receiver.for_job(retried)) == 2


@pytest.fixture(scope="module")
def strict_api(module_stack: Stack, module_servers: ServerFactory) -> Server:
    """Webhooks on, with the default protections (https only, no internal targets)."""
    return module_servers("api", module_stack, CHUTE_WEBHOOK_SECRET=SECRET)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.com/hook", "must be https"),
        ("https://127.0.0.1/hook", "internal address"),
        ("https://169.254.169.254/latest/meta-data", "internal address"),
        ("https://[::1]/hook", "internal address"),
        ("https://user:pw@example.com/hook", "credentials"),
    ],
)
def test_unsafe_callback_urls_are_refused_atupload_with_callback(
    strict_api: Server, url: str, reason: str
) -> None:
    r = httpx.post(f"{strict_api.url}/v1/uploads", params={"callback_url": url}, content=b"x")
    assert r.status_code == 400
    assert r.json()["type"] == "urn:chute:problem:invalid-callback"
    assert reason in r.json()["detail"]


def test_callback_without_a_configured_secret_is_refused(
    make_stack: StackFactory, servers: ServerFactory
) -> None:
    api = servers("api", make_stack())
    r = httpx.post(
        f"{api.url}/v1/uploads", params={"callback_url": "https://example.com/h"}, content=b"x"
    )
    assert r.status_code == 400
    assert "not configured" in r.json()["detail"]
