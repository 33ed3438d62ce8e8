"""Bootstrap with pools and extra subscribers, on moto: each pool's events reach only
its queue, a fan-out subscriber sees every event, a second run changes nothing, drift
is put back and reported, and a subscription added by hand survives."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from chute_core.errors import SettingsError
from chute_ops.bootstrap import bootstrap
from chute_ops.subscribers import Subscriber
from tests.conftest import StackFactory
from tests.support.stack import Stack

JOB = "0190a0b0-0000-7000-8000-00000000000{}"
POOLS: dict[str, Any] = {"images": {}, "bulk": {"max_receive_count": 2}}
ROUTES = [{"pool": "images", "content_types": ["image/*"]}, {"pool": "bulk", "tenants": ["acme"]}]


@pytest.fixture
def pooled(make_stack: StackFactory) -> Stack:
    return make_stack(pools=POOLS, pool_routes=ROUTES)


@pytest.fixture
def audit(pooled: Stack) -> Iterator[Subscriber]:
    """An SQS subscriber bootstrap creates the queue of; deleted after the test."""
    subscriber = Subscriber(
        protocol="sqs", endpoint=f"{pooled.pipeline.queue}-audit", raw_message_delivery=True
    )
    yield subscriber
    sqs = pooled.client("sqs")
    with contextlib.suppress(sqs.exceptions.QueueDoesNotExist):
        sqs.delete_queue(QueueUrl=pooled.queue_url(subscriber.endpoint))


def _keys_in(stack: Stack, queue: str) -> list[str]:
    sqs, url, keys = stack.client("sqs"), stack.queue_url(queue), []
    while messages := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    ).get("Messages"):
        for m in messages:
            body = json.loads(m["Body"])
            keys += [r["s3"]["object"]["key"].replace("%2F", "/") for r in body.get("Records", [])]
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return sorted(keys)


def _topic_arn(stack: Stack) -> str:
    topics = stack.client("sns").list_topics()["Topics"]
    return str(
        next(t["TopicArn"] for t in topics if t["TopicArn"].endswith(f":{stack.pipeline.topic}"))
    )


def test_each_pools_events_reach_only_its_queue_and_a_subscriber_sees_all(
    pooled: Stack, audit: Subscriber
) -> None:
    bootstrap(pooled.aws, pooled.pipeline, [audit])
    keys = {
        "default": f"incoming/default/t1/{JOB.format(1)}",
        "images": f"incoming/images/t1/{JOB.format(2)}",
        "bulk": f"incoming/bulk/acme/{JOB.format(3)}",
    }
    s3 = pooled.client("s3")
    for key in keys.values():
        s3.put_object(Bucket=pooled.pipeline.bucket, Key=key, Body=b"x")
    pools = pooled.pipeline.pool_set()
    for name, key in keys.items():
        assert _keys_in(pooled, pools.get(name).queue) == [key]
    assert _keys_in(pooled, audit.endpoint) == sorted(keys.values())


def test_a_second_run_reports_no_changes(pooled: Stack, audit: Subscriber) -> None:
    assert bootstrap(pooled.aws, pooled.pipeline, [audit])
    assert bootstrap(pooled.aws, pooled.pipeline, [audit]) == []


def test_a_drifted_filter_is_put_back_and_reported(pooled: Stack) -> None:
    sns = pooled.client("sns")
    images_queue = pooled.pipeline.pool_set().get("images").queue
    subs = sns.list_subscriptions_by_topic(TopicArn=_topic_arn(pooled))["Subscriptions"]
    (images,) = [s for s in subs if s["Endpoint"].endswith(f":{images_queue}")]
    sns.set_subscription_attributes(
        SubscriptionArn=images["SubscriptionArn"], AttributeName="FilterPolicy", AttributeValue="{}"
    )
    changes = [str(c) for c in bootstrap(pooled.aws, pooled.pipeline)]
    assert changes == [
        f"updated subscription {pooled.pipeline.topic} -> {images_queue} FilterPolicy (drifted)"
    ]
    attributes = sns.get_subscription_attributes(SubscriptionArn=images["SubscriptionArn"])
    assert "incoming/images/" in attributes["Attributes"]["FilterPolicy"]


def test_a_subscription_added_by_hand_survives_bootstrap(pooled: Stack, audit: Subscriber) -> None:
    sqs, sns = pooled.client("sqs"), pooled.client("sns")
    url = sqs.create_queue(QueueName=f"{pooled.pipeline.queue}-by-hand")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sub = sns.subscribe(
        TopicArn=_topic_arn(pooled), Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True
    )
    try:
        assert bootstrap(pooled.aws, pooled.pipeline, [audit])  # the audit queue
        subs = sns.list_subscriptions_by_topic(TopicArn=_topic_arn(pooled))["Subscriptions"]
        assert sub["SubscriptionArn"] in {s["SubscriptionArn"] for s in subs}
        attributes = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])
        assert "FilterPolicy" not in attributes["Attributes"]
    finally:
        sqs.delete_queue(QueueUrl=url)


def test_a_subscriber_on_a_pools_queue_is_refused_with_one_line(pooled: Stack) -> None:
    clash = Subscriber(protocol="sqs", endpoint=pooled.pipeline.pool_set().get("bulk").queue)
    with pytest.raises(SettingsError, match=r"is a pool's queue$"):
        bootstrap(pooled.aws, pooled.pipeline, [clash])


def test_going_back_to_one_pool_removes_the_default_pools_filter(
    pooled: Stack,
) -> None:
    unpooled = pooled.pipeline.model_copy(update={"pools": {}, "pool_routes": []})
    changes = [str(c) for c in bootstrap(pooled.aws, unpooled)]
    assert changes == [
        f"updated subscription {unpooled.topic} -> {unpooled.queue} FilterPolicy (drifted)"
    ]
    pooled.client("s3").put_object(
        Bucket=unpooled.bucket, Key=f"incoming/t1/{JOB.format(4)}", Body=b"x"
    )
    assert _keys_in(pooled, unpooled.queue) == [f"incoming/t1/{JOB.format(4)}"]


def test_an_https_subscriber_gets_its_filter_and_a_second_run_changes_nothing(
    pooled: Stack,
) -> None:
    policy = {"Records": {"s3": {"object": {"size": [{"numeric": [">", 1048576]}]}}}}
    hook = Subscriber(
        protocol="https", endpoint="https://analytics.example.invalid/s3", filter_policy=policy
    )
    changes = [str(c) for c in bootstrap(pooled.aws, pooled.pipeline, [hook])]
    assert changes == [f"created subscription {pooled.pipeline.topic} -> {hook.endpoint}"]
    subs = pooled.client("sns").list_subscriptions_by_topic(TopicArn=_topic_arn(pooled))
    (sub,) = [s for s in subs["Subscriptions"] if s["Protocol"] == "https"]
    attributes = pooled.client("sns").get_subscription_attributes(
        SubscriptionArn=sub["SubscriptionArn"]
    )["Attributes"]
    assert json.loads(attributes["FilterPolicy"]) == policy
    assert attributes["FilterPolicyScope"] == "MessageBody"
    assert attributes["RawMessageDelivery"] == "false"
    assert bootstrap(pooled.aws, pooled.pipeline, [hook]) == []
