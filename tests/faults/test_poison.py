"""Poison among good messages: garbage, unknown buckets and prefixes, events with no
job, objects deleted before processing. Each ends in the DLQ with its reason or in a
FAILED job with its code; the good jobs are processed in between."""

import json
from collections import Counter
from pathlib import Path

from chute_core.jobs import new_job_id
from tests.conftest import ServerFactory, StackFactory
from tests.faults.conftest import recording_env
from tests.support.accounting import account
from tests.support.polling import wait_until
from tests.support.stack import Stack
from tests.support.uploads import upload, upload_many, wait_terminal


def s3_event(bucket: str, key: str) -> str:
    record = {
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1, "eTag": "x"}},
    }
    return json.dumps({"Records": [record]})


def dead_letters(stack: Stack) -> list[dict[str, object]]:
    sqs, url = stack.client("sqs"), stack.queue_url(stack.pipeline.dlq_name)
    found: dict[str, dict[str, object]] = {}
    while True:
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=30,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return list(found.values())
        found.update({m["MessageId"]: m for m in messages})


def test_poison_messages_are_dead_lettered_with_reasons_and_good_jobs_still_succeed(
    make_stack: StackFactory, servers: ServerFactory, record_file: Path
) -> None:
    stack = make_stack(visibility_timeout_seconds=5)
    bucket = stack.pipeline.bucket
    api = servers("api", stack)
    doomed = upload(api.url, "deleted-before-processing.bin")
    stack.client("s3").delete_object(Bucket=bucket, Key=f"incoming/default/{doomed}")
    sqs, url = stack.client("sqs"), stack.queue_url()
    poison = {
        "not json at all": "unparseable_body",
        '{"hello": "world"}': "unparseable_body",
        s3_event("someone-elses-bucket", f"incoming/default/{new_job_id()}"): "unknown_bucket",
        s3_event(bucket, f"incoming/default/{new_job_id()}"): "no_job",
        s3_event(bucket, "elsewhere/file.bin"): "unknown_prefix",
    }
    good: list[str] = []
    for body in poison:  # interleaved with good uploads
        sqs.send_message(QueueUrl=url, MessageBody=body)
        good.extend(upload_many(api.url, ["a.bin", "b.bin"]))
    worker = servers("worker", stack, **recording_env(record_file))
    jobs = wait_terminal(stack, [*good, doomed], timeout=60)
    assert all(jobs[j]["state"] == "SUCCEEDED" for j in good)
    assert jobs[doomed]["state"] == "FAILED"
    assert jobs[doomed]["error"]["code"] == "object_missing"
    letters = wait_until(
        lambda: (found := dead_letters(stack)) and len(found) == len(poison) and found,
        timeout=30,
        what="every poison message in the DLQ",
    )
    reasons = Counter(
        m["MessageAttributes"]["chute-reason"]["StringValue"]  # type: ignore[index]
        for m in letters
    )
    assert reasons == Counter(poison.values())
    assert worker.proc.poll() is None
    result = account(stack, [*good, doomed], [worker.log_path])
    assert (result.succeeded, result.failed, result.dlq, result.lost) == (
        len(good),
        1,
        len(poison),
        0,
    )
