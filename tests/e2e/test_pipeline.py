"""Upload through the real API, through S3 -> SNS -> SQS, to the real worker."""

import hashlib
import json
import os

import httpx

from tests.conftest import ServerFactory, StackFactory
from tests.support.polling import wait_until
from tests.support.processes import routes

MiB = 1024 * 1024
VISIBILITY = 4


def test_uploaded_file_reaches_succeeded_with_matching_digest_and_inspect_result(
    make_stack: StackFactory, servers: ServerFactory
) -> None:
    # A short visibility timeout: the duplicate event of the multipart upload, seen while
    # its twin is processing, comes back within seconds and is then deleted as done.
    stack = make_stack(visibility_timeout_seconds=VISIBILITY)
    api = servers("api", stack, CHUTE_UPLOAD_PART_BYTES=str(5 * MiB))
    # The PNG is noise behind a PNG signature: route it to inspect alone (thumbnails
    # of real images are tested in test_processors.py).
    servers("worker", stack, CHUTE_WORKER_ROUTES=routes("inspect"))
    files = {
        "small.txt": b"hello, chute\n" * 100,
        "large.png": b"\x89PNG\r\n\x1a\n" + os.urandom(12 * MiB),  # multipart: 2 S3 events
    }
    jobs = {}
    for name, body in files.items():
        r = httpx.post(f"{api.url}/v1/uploads", files={"file": (name, body)}, timeout=60)
        assert r.status_code == 202, r.text
        jobs[name] = r.json()
    for name, body in files.items():
        accepted = jobs[name]

        def terminal(url: str = accepted["status_url"]) -> dict[str, object] | None:
            job: dict[str, object] = httpx.get(url).json()
            return job if job["state"] in ("SUCCEEDED", "FAILED") else None

        job = wait_until(terminal, timeout=60, what=f"{name} terminal")
        assert job["state"] == "SUCCEEDED", job
        digest = hashlib.sha256(body).hexdigest()
        assert job["sha256"] == digest
        assert job["attempts"] == 1
        steps = job["result"]["processors"]  # type: ignore[index]
        assert [(s["name"], s["outcome"]) for s in steps] == [("inspect", "succeeded")]
        summary = steps[0]["summary"]
        assert summary["size"] == len(body)
        assert summary["sha256"] == digest
        key = f"results/default/{accepted['job_id']}/inspect/summary.json"
        assert summary["objects"] == [key]
        stored = stack.client("s3").get_object(Bucket=stack.pipeline.bucket, Key=key)
        assert json.loads(stored["Body"].read())["sha256"] == digest
    large = httpx.get(jobs["large.png"]["status_url"]).json()
    assert large["detected_type"] == "image/png"
    # Every message, duplicates of the multipart upload included, has been deleted.
    sqs = stack.client("sqs")

    def queue_empty() -> bool:
        attrs = sqs.get_queue_attributes(
            QueueUrl=stack.queue_url(),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return all(v == "0" for v in attrs.values())

    wait_until(queue_empty, timeout=VISIBILITY * 4, what="queue drained")
