"""The local AWS's SQS speed-ups answer exactly what moto itself answers, and its
retention fix answers what SQS does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sqs.models import Queue, SQSBackend, sqs_backends

from chute_ops.local_aws import compute_queue_attributes_once, expire_messages_past_retention

COUNTS = (
    "approximate_number_of_messages",
    "approximate_number_of_messages_not_visible",
    "approximate_number_of_messages_delayed",
)


@pytest.fixture
def patched() -> Iterator[None]:
    originals = (
        SQSBackend.get_queue_attributes,
        SQSBackend.is_message_valid_based_on_retention_period,
        SQSBackend.receive_message,
    )
    counts = {name: vars(Queue)[name] for name in COUNTS}
    compute_queue_attributes_once()
    expire_messages_past_retention()
    try:
        yield
    finally:
        (
            SQSBackend.get_queue_attributes,
            SQSBackend.is_message_valid_based_on_retention_period,
            SQSBackend.receive_message,
        ) = originals
        for name, count in counts.items():
            setattr(Queue, name, count)


def make_queue(name: str, retention_seconds: int) -> tuple[Any, str]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    attributes = {"MessageRetentionPeriod": str(retention_seconds)}
    return sqs, sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


@mock_aws
def test_queue_attributes_once_answers_like_moto(patched: None) -> None:
    sqs, url = make_queue("q", retention_seconds=120)
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    assert len(received) == 2  # the retention check keeps messages younger than 120 s
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    named = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    everything = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert named == {
        "ApproximateNumberOfMessages": "3",
        "ApproximateNumberOfMessagesNotVisible": "2",
    }
    assert everything["MessageRetentionPeriod"] == "120"
    with pytest.raises(sqs.exceptions.ClientError, match="InvalidAttributeName"):
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["NoSuchAttribute"])


@mock_aws
def test_receive_skips_messages_past_their_retention(patched: None) -> None:
    sqs, url = make_queue("old", retention_seconds=60)
    sqs.send_message(QueueUrl=url, MessageBody="stale")
    queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].queues["old"]
    for message in queue._messages:
        message.sent_timestamp -= 61_000  # sent 61 s ago: past the 60 s retention
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []


@mock_aws
def test_an_expired_message_is_gone_and_hides_no_fresh_one_behind_it(patched: None) -> None:
    sqs, url = make_queue("expiring", retention_seconds=60)
    sqs.send_message(QueueUrl=url, MessageBody="stale")
    queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].queues["expiring"]
    for message in queue._messages:
        message.sent_timestamp -= 61_000  # sent 61 s ago: past the 60 s retention
    sqs.send_message(QueueUrl=url, MessageBody="fresh")
    names = ["ApproximateNumberOfMessages"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"] == {
        "ApproximateNumberOfMessages": "1"
    }
    (received,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert received["Body"] == "fresh"
