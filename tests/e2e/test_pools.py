"""Pools end to end on moto: image jobs only ever run on the image pool's workers and the
rest only on the default pool's; a tenant pinned to `bulk` lands in `bulk`; an extra
SQS subscriber sees every upload while each job still runs once; an event for another
pool's key is dead-lettered as `wrong_pool`; listings filter by pool."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import httpx
import pytest

from chute_core.events import object_created_message
from chute_ops.bootstrap import bootstrap
from chute_ops.subscribers import Subscriber
from tests.conftest import ServerFactory, StackFactory
from tests.support.files import image
from tests.support.keyed import KeyedApi, keyed_api
from tests.support.polling import wait_until
from tests.support.processes import Server, run_chute
from tests.support.stack import Stack

POOLS: dict[str, Any] = {"images": {}, "bulk": {}}
ROUTES = [{"pool": "images", "content_types": ["image/*"]}, {"pool": "bulk", "tenants": ["acme"]}]
RECORDING = json.dumps({"*/*": ["tests.support.processors:Recording"]})


def _upload(api: KeyedApi, tenant: str, name: str, body: bytes, content_type: str) -> str:
    r = httpx.post(
        f"{api.server.url}/v1/uploads",
        params={"filename": name},
        content=body,
        headers={**api.bearer(tenant), "Content-Type": content_type},
        timeout=60,
    )
    assert r.status_code == 202, r.text
    return str(r.json()["job_id"])


def _terminal(api: KeyedApi, tenant: str, job_ids: list[str]) -> dict[str, dict[str, Any]]:
    def done() -> dict[str, dict[str, Any]] | None:
        jobs = {
            j: httpx.get(f"{api.server.url}/v1/jobs/{j}", headers=api.bearer(tenant)).json()
            for j in job_ids
        }
        finished = all(j["state"] in ("SUCCEEDED", "FAILED") for j in jobs.values())
        return jobs if finished else None

    return wait_until(done, timeout=90, interval=0.2, what="every job terminal")


@pytest.fixture
def pooled(make_stack: StackFactory) -> Stack:
    return make_stack(pools=POOLS, pool_routes=ROUTES)


@pytest.fixture
def audit(pooled: Stack) -> Iterator[str]:
    """An extra SQS subscriber (raw delivery) bootstrapped onto the pooled stack's topic;
    its queue name. Deleted after the test."""
    name = f"{pooled.pipeline.queue}-audit"
    bootstrap(
        pooled.aws,
        pooled.pipeline,
        [Subscriber(protocol="sqs", endpoint=name, raw_message_delivery=True)],
    )
    yield name
    pooled.client("sqs").delete_queue(QueueUrl=pooled.queue_url(name))


def _announced_keys(stack: Stack, queue: str) -> list[str]:
    sqs, url, keys = stack.client("sqs"), stack.queue_url(queue), []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
        "Messages"
    ):
        for m in got:
            for record in json.loads(m["Body"]).get("Records", []):
                keys.append(unquote_plus(record["s3"]["object"]["key"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return keys


def test_each_pools_jobs_run_only_on_that_pools_workers_and_a_subscriber_sees_all(
    pooled: Stack, audit: str, servers: ServerFactory, tmp_path: Path
) -> None:
    runs = tmp_path / "runs.jsonl"
    api = keyed_api(servers, pooled, tmp_path, ["t1", "acme"])
    env = {"CHUTE_WORKER_ROUTES": RECORDING, "CHUTE_TEST_RECORD_FILE": str(runs)}
    workers: dict[str, list[Server]] = {
        pool: [servers("worker", pooled, CHUTE_POOL=pool, **env) for _ in range(count)]
        for pool, count in (("default", 2), ("images", 2), ("bulk", 1))
    }
    png = image(8, 8)
    expected = {_upload(api, "t1", f"i{n}.png", png, "image/png"): "images" for n in range(6)}
    expected |= {
        _upload(api, "t1", f"t{n}.txt", b"text %d" % n, "text/plain"): "default" for n in range(6)
    }
    # The API detects the type: a PNG sent as octet-stream is still an image job.
    expected[_upload(api, "t1", "disguised.bin", png, "application/octet-stream")] = "images"
    pinned = {_upload(api, "acme", f"a{n}.png", png, "image/png"): "bulk" for n in range(3)}

    jobs = _terminal(api, "t1", list(expected)) | _terminal(api, "acme", list(pinned))
    expected |= pinned
    assert {j: jobs[j]["pool"] for j in expected} == expected
    assert {j["state"] for j in jobs.values()} == {"SUCCEEDED"}
    pool_of_pid = {w.proc.pid: pool for pool, ws in workers.items() for w in ws}
    started = [json.loads(line) for line in runs.read_text().splitlines()]
    started = [r for r in started if r["event"] == "start"]
    assert sorted(r["job"] for r in started) == sorted(expected)  # each job ran once
    assert {r["job"]: pool_of_pid[r["pid"]] for r in started} == expected
    # The subscriber got every upload's event; the pools' queues each job's only once.
    keys = {jobs[j]["object"]["key"] for j in expected}
    assert set(_announced_keys(pooled, audit)) == keys


def test_a_listing_filters_by_pool(pooled: Stack, servers: ServerFactory, tmp_path: Path) -> None:
    api = keyed_api(servers, pooled, tmp_path, ["t1"])
    image_job = _upload(api, "t1", "i.png", image(8, 8), "image/png")
    text_job = _upload(api, "t1", "t.txt", b"text", "text/plain")

    def listed(pool: str) -> list[str]:
        r = httpx.get(f"{api.server.url}/v1/jobs", params={"pool": pool}, headers=api.bearer("t1"))
        assert r.status_code == 200, r.text
        return [j["job_id"] for j in r.json()["jobs"]]

    assert listed("images") == [image_job]
    assert listed("default") == [text_job]
    bad = httpx.get(
        f"{api.server.url}/v1/jobs", params={"pool": "No Pool"}, headers=api.bearer("t1")
    )
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"


def test_a_worker_dead_letters_an_event_for_another_pool_as_wrong_pool(
    pooled: Stack, servers: ServerFactory
) -> None:
    servers("worker", pooled, CHUTE_POOL="default")
    key = f"{pooled.pipeline.incoming_prefix}images/t1/0190a0b0-0000-7000-8000-000000000009"
    body = object_created_message(pooled.pipeline.bucket, key, size=1, etag="e")
    sqs = pooled.client("sqs")
    sqs.send_message(QueueUrl=pooled.queue_url(), MessageBody=body)
    env = {**pooled.env, "CHUTE_POOL": "default"}

    def dead_lettered() -> str | None:
        listed = run_chute("dlq", "list", "--pool", "default", env=env)
        return listed.stdout if "wrong_pool" in listed.stdout else None

    wait_until(dead_lettered, timeout=30, interval=0.5, what="the event in the DLQ")
    images_dlq = run_chute("dlq", "list", "--pool", "images", env=env)
    assert images_dlq.stdout.rstrip().endswith("0 messages")
