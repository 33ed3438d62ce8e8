import json

from chute_core.events import ObjectCreated, S3TestEvent, parse_body
from tests.support.stack import Stack


def test_objects_under_results_never_reach_the_queue(stack: Stack) -> None:
    s3, sqs = stack.client("s3"), stack.client("sqs")
    bucket, url = stack.pipeline.bucket, stack.queue_url()
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"results/default/job{i}/inspect.json", Body=b"{}")
    # A sentinel under incoming/ proves the chain delivers; everything before it on the
    # queue must be about incoming/ too (or the s3:TestEvent of the configuration).
    s3.put_object(Bucket=bucket, Key="incoming/default/sentinel", Body=b"x")
    seen: list[str] = []
    while "incoming/default/sentinel" not in seen:
        response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=5)
        messages = response.get("Messages", [])
        assert messages, f"the sentinel never arrived; saw {seen}"
        for message in messages:
            parsed = parse_body(message["Body"])
            if isinstance(parsed, S3TestEvent):
                continue
            seen.extend(record.key for record in parsed if isinstance(record, ObjectCreated))
    assert seen == ["incoming/default/sentinel"], json.dumps(seen)
