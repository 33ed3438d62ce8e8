"""A tus upload survives the replica serving it: two API processes behind a round-robin
TCP proxy, the one receiving a PATCH is SIGKILLed mid-chunk, and tuspy's own retries
resume on the other (HEAD for the offset, then PATCH; 423 until the dead replica's lock
lapses). The job SUCCEEDS with the file's bytes and SHA-256, and the client sent no
more than the file plus the interrupted chunk (bytes counted at the proxy)."""

from __future__ import annotations

import hashlib
import io
import os
import threading

from tusclient.client import TusClient

from tests.conftest import ServerFactory
from tests.support.jobs_api import wait_job
from tests.support.polling import wait_until
from tests.support.proxy import tcp_proxy
from tests.support.stack import Stack

MiB = 1024 * 1024
SIZE = 40 * MiB
CHUNK = 16 * MiB
HEADERS_ALLOWANCE = 64 * 1024  # request lines and headers of every HEAD and PATCH


def test_a_patch_cut_by_a_dead_replica_resumes_on_the_other(
    stack: Stack, servers: ServerFactory
) -> None:
    env = {"CHUTE_UPLOAD_PART_BYTES": str(5 * MiB), "CHUTE_TUS_LOCK_SECONDS": "2"}
    replicas = [servers("api", stack, **env) for _ in range(2)]
    servers("worker", stack)
    data = os.urandom(SIZE)
    with tcp_proxy(*(r.port for r in replicas)) as proxy:
        client = TusClient(f"{proxy.url}/v1/tus/")
        uploader = client.uploader(
            file_stream=io.BytesIO(data), chunk_size=CHUNK, retries=20, retry_delay=1
        )
        failures: list[BaseException] = []

        def upload() -> None:
            try:
                uploader.upload()
            except BaseException as exc:  # reported by the test thread
                failures.append(exc)

        thread = threading.Thread(target=upload)
        thread.start()
        # Mid-chunk: the first PATCH has sent more than a part (committed) but not all.
        port, _ = wait_until(
            lambda: (found := proxy.busiest_upstream())[1] > 7 * MiB and found,
            timeout=60,
            what="a PATCH half sent",
        )
        victim = next(r for r in replicas if r.port == port)
        victim.proc.kill()
        thread.join(timeout=120)
        assert not thread.is_alive(), "the upload never finished"
        assert failures == []
        sent = proxy.sent_total
    survivor = next(r for r in replicas if r is not victim)
    job = wait_job(survivor.url, uploader.url.rsplit("/", 1)[1], timeout=60)
    assert job["state"] == "SUCCEEDED", job
    assert job["sha256"] == hashlib.sha256(data).hexdigest()
    stored = stack.client("s3").get_object(Bucket=stack.pipeline.bucket, Key=job["object"]["key"])
    assert stored["Body"].read() == data
    print(f"client sent {sent} bytes through the proxy for a {SIZE}-byte file")
    assert sent <= SIZE + CHUNK + HEADERS_ALLOWANCE, f"sent {sent} bytes for {SIZE}"
