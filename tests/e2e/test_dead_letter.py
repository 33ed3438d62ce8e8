"""A message whose processing raises is redelivered, then dead-lettered."""

import json

import httpx

from tests.conftest import ServerFactory, StackFactory
from tests.support.polling import wait_until
from tests.support.processes import routes

MAX_RECEIVES = 3


def test_failing_message_is_redelivered_then_lands_in_the_dlq(
    make_stack: StackFactory, servers: ServerFactory
) -> None:
    stack = make_stack(visibility_timeout_seconds=1, max_receive_count=MAX_RECEIVES)
    api = servers("api", stack)
    worker = servers(
        "worker", stack, CHUTE_WORKER_ROUTES=routes("tests.support.processors:AlwaysFails")
    )
    accepted = httpx.post(f"{api.url}/v1/uploads", content=b"doomed").json()
    sqs = stack.client("sqs")
    dlq = stack.queue_url(stack.pipeline.dlq_name)

    def dead_lettered() -> list[dict[str, object]]:
        messages: list[dict[str, object]] = sqs.receive_message(
            QueueUrl=dlq, WaitTimeSeconds=1, AttributeNames=["All"]
        ).get("Messages", [])
        return messages

    (message,) = wait_until(dead_lettered, timeout=60, what="message in the DLQ")
    body = json.loads(str(message["Body"]))
    assert body["Records"][0]["s3"]["object"]["key"].endswith(accepted["job_id"])
    attempts = [
        json.loads(line)
        for line in worker.log().splitlines()
        if line.startswith("{") and accepted["job_id"] in line and "job_" in line
    ]
    assert len([a for a in attempts if a["event"] == "job_will_retry"]) == MAX_RECEIVES - 1
    assert [a["event"] for a in attempts][-1] == "job_failed"
    job = httpx.get(accepted["status_url"]).json()
    assert job["state"] == "FAILED"
    assert job["attempts"] == MAX_RECEIVES
    assert job["error"]["code"] == "processor_error"
