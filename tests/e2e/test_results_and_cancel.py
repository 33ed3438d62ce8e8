"""Results are downloaded through short-lived presigned URLs once a job SUCCEEDED;
a job not yet processing can be cancelled, which deletes its object, and the worker
then skips it."""

from __future__ import annotations

import hashlib
import json

import httpx

from tests.conftest import ServerFactory, StackFactory
from tests.support.jobs_api import get_job, post_file, wait_job
from tests.support.polling import wait_until
from tests.support.processes import routes
from tests.support.uploads import queue_drained


def test_succeeded_job_result_objects_download_through_presigned_urls(
    make_stack: StackFactory, servers: ServerFactory
) -> None:
    stack = make_stack()
    api = servers("api", stack)
    servers("worker", stack, CHUTE_WORKER_ROUTES=routes("inspect"))
    body = b"results, please\n" * 100
    job_id = post_file(api.url, "r.txt", body, "text/plain")
    assert wait_job(api.url, job_id)["state"] == "SUCCEEDED"
    r = httpx.get(f"{api.url}/v1/jobs/{job_id}/result")
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["expires_in"] == 300
    (obj,) = result["objects"]
    assert (obj["processor"], obj["name"]) == ("inspect", "summary.json")
    assert "X-Amz-Signature=" in obj["url"]
    assert "X-Amz-Expires=300" in obj["url"]
    downloaded = httpx.get(obj["url"])
    assert downloaded.status_code == 200
    assert json.loads(downloaded.content)["sha256"] == hashlib.sha256(body).hexdigest()


def test_queued_job_is_cancelled_its_object_deleted_and_the_worker_skips_it(
    make_stack: StackFactory, servers: ServerFactory
) -> None:
    stack = make_stack()
    api = servers("api", stack)  # no worker yet: the job stays QUEUED
    job_id = post_file(api.url, "c.txt", b"cancel me")
    early = httpx.get(f"{api.url}/v1/jobs/{job_id}/result")
    assert early.status_code == 409
    assert early.json()["type"] == "urn:chute:problem:job-not-succeeded"
    r = httpx.delete(f"{api.url}/v1/jobs/{job_id}")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "CANCELLED"
    assert stack.keys(f"incoming/default/{job_id}") == []
    assert httpx.delete(f"{api.url}/v1/jobs/{job_id}").status_code == 200  # idempotent
    servers("worker", stack)
    wait_until(lambda: queue_drained(stack), timeout=30, what="the event consumed")
    job = get_job(api.url, job_id)
    assert job["state"] == "CANCELLED"
    assert job["attempts"] == 0  # never claimed


def test_finished_job_cannot_be_cancelled(make_stack: StackFactory, servers: ServerFactory) -> None:
    stack = make_stack()
    api = servers("api", stack)
    servers("worker", stack, CHUTE_WORKER_ROUTES=routes("inspect"))
    job_id = post_file(api.url, "done.txt", b"done")
    assert wait_job(api.url, job_id)["state"] == "SUCCEEDED"
    r = httpx.delete(f"{api.url}/v1/jobs/{job_id}")
    assert r.status_code == 409
    assert r.json()["type"] == "urn:chute:problem:job-not-cancellable"
    assert get_job(api.url, job_id)["state"] == "SUCCEEDED"
    assert stack.keys(f"incoming/default/{job_id}") != []
