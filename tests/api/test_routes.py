"""The API's routes in-process (the app over httpx's ASGI transport, its lifespan run
in the test), against moto: what each flow answers and records, without a server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from chute_api.app import create_app
from chute_api.settings import ApiSettings
from chute_core.jobs import JobState
from tests.support.stack import Stack

PROBLEM = "application/problem+json"


@pytest_asyncio.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    settings = ApiSettings(auth=["none"], rate_uploads_per_second=0, rate_reads_per_second=0)
    app = create_app(api=settings, aws=stack.aws, pipeline=stack.pipeline)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c,
    ):
        yield c


@pytest.mark.asyncio
async def test_a_streamed_upload_answers_202_with_a_queued_job(api: httpx.AsyncClient) -> None:
    r = await api.post("/v1/uploads", params={"filename": "a.txt"}, content=b"hello")
    assert r.status_code == 202
    assert r.headers["location"] == r.json()["status_url"]
    job = (await api.get(f"/v1/jobs/{r.json()['job_id']}")).json()
    assert job["state"] == JobState.QUEUED
    assert (job["object"]["filename"], job["object"]["size"]) == ("a.txt", 5)


@pytest.mark.asyncio
async def test_an_unknown_processor_is_a_400_problem_before_any_job(
    api: httpx.AsyncClient,
) -> None:
    r = await api.post("/v1/uploads", params={"processors": "inspect,nope"}, content=b"x")
    assert r.status_code == 400
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == "urn:chute:problem:unknown-processor"
    assert (await api.get("/v1/jobs")).json()["jobs"] == []


@pytest.mark.asyncio
async def test_a_retried_form_replays_and_another_file_is_a_409(api: httpx.AsyncClient) -> None:
    def form(body: bytes) -> dict[str, tuple[str, bytes, str]]:
        return {"file": ("f.txt", body, "text/plain")}

    headers = {"Idempotency-Key": "form-key"}
    first = await api.post("/v1/uploads", files=form(b"same"), headers=headers)
    again = await api.post("/v1/uploads", files=form(b"same"), headers=headers)
    other = await api.post("/v1/uploads", files=form(b"else"), headers=headers)
    assert (first.status_code, again.status_code, other.status_code) == (202, 202, 409)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"


@pytest.mark.asyncio
async def test_a_presigned_upload_creates_a_job_awaiting_its_upload(
    api: httpx.AsyncClient,
) -> None:
    body = {"filename": "big.bin", "content_type": "application/octet-stream", "size": 10}
    r = await api.post("/v1/uploads/presign", json=body)
    assert r.status_code == 201
    assert r.json()["method"] == "POST"
    assert r.json()["state"] == JobState.AWAITING_UPLOAD
    assert (await api.get(f"/v1/jobs/{r.json()['job_id']}")).status_code == 200


@pytest.mark.asyncio
async def test_another_tenants_or_an_unknown_job_is_a_404_problem(api: httpx.AsyncClient) -> None:
    r = await api.get("/v1/jobs/0190b5a8-0000-7000-8000-000000000000")
    assert r.status_code == 404
    assert r.json()["type"] == "urn:chute:problem:not-found"


@pytest.mark.asyncio
async def test_cancelling_a_queued_job_deletes_its_object(
    api: httpx.AsyncClient, stack: Stack
) -> None:
    job_id = (await api.post("/v1/uploads", content=b"bytes")).json()["job_id"]
    r = await api.delete(f"/v1/jobs/{job_id}")
    assert r.status_code == 200
    assert r.json()["state"] == JobState.CANCELLED
    assert not [k for k in stack.keys(prefix=stack.pipeline.incoming_prefix) if job_id in k]
