"""`chute bootstrap`: create or reconcile every AWS resource the pipeline needs.

Each step reads the resource first and writes only what differs, so a second run
changes nothing and reports so. The calls are the same on moto, LocalStack and AWS.
"""

from __future__ import annotations

import json
from typing import Any

from chute_core.aws import sync_client
from chute_core.errors import SettingsError
from chute_core.settings import AwsSettings, PipelineSettings
from chute_ops.bootstrap_bucket import BucketSteps, Change
from chute_ops.bootstrap_queues import QueueSteps, service_may
from chute_ops.bootstrap_subscriptions import SubscriptionSteps
from chute_ops.bootstrap_table import TableSteps
from chute_ops.subscribers import Subscriber

__all__ = ["Change", "bootstrap"]

NOTIFICATION_ID = "chute-incoming"


class _Reconciler(BucketSteps, QueueSteps, SubscriptionSteps, TableSteps):
    def __init__(self, aws: AwsSettings, pipeline: PipelineSettings) -> None:
        self.p = pipeline
        self.region = aws.region
        self.s3 = sync_client("s3", aws)
        self.sns = sync_client("sns", aws)
        self.sqs = sync_client("sqs", aws)
        self.ddb = sync_client("dynamodb", aws)
        self.changes: list[Change] = []

    def topic(self) -> str:
        name = self.p.topic
        arn = next(
            (
                t["TopicArn"]
                for page in self.sns.get_paginator("list_topics").paginate()
                for t in page.get("Topics", [])
                if t["TopicArn"].rsplit(":", 1)[-1] == name
            ),
            None,
        )
        if arn is None:
            arn = str(self.sns.create_topic(Name=name)["TopicArn"])
            self.note(f"topic {name}", "created")
        bucket_arn = f"arn:aws:s3:::{self.p.bucket}"
        policy = service_may(
            "AllowBucketToPublish", "s3", "SNS:Publish", arn, ("ArnLike", bucket_arn)
        )
        attributes = self.sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        if json.loads(attributes.get("Policy") or "{}") != policy:
            self.sns.set_topic_attributes(
                TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(policy)
            )
            self.note(f"topic {name} policy", "updated")
        return arn

    # -- S3 -> SNS ---------------------------------------------------------------------
    def notification(self, topic_arn: str) -> None:
        name = self.p.bucket
        current = self.s3.get_bucket_notification_configuration(Bucket=name)
        current.pop("ResponseMetadata", None)
        ours = {
            "Id": NOTIFICATION_ID,
            "TopicArn": topic_arn,
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {
                "Key": {"FilterRules": [{"Name": "prefix", "Value": self.p.incoming_prefix}]}
            },
        }
        topics = current.get("TopicConfigurations", [])
        mine = next((t for t in topics if t.get("Id") == NOTIFICATION_ID), None)
        if mine is not None and _normal_notification(mine) == _normal_notification(ours):
            return
        current["TopicConfigurations"] = [
            *(t for t in topics if t.get("Id") != NOTIFICATION_ID),
            ours,
        ]
        self.s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration=current
        )
        self.note(f"bucket {name} notification -> {self.p.topic}", "updated")


def _normal_notification(config: dict[str, Any]) -> Any:
    rules = config.get("Filter", {}).get("Key", {}).get("FilterRules", [])
    return (
        config.get("TopicArn"),
        sorted(config.get("Events", [])),
        sorted((r["Name"].lower(), r["Value"]) for r in rules),
    )


def bootstrap(
    aws: AwsSettings, pipeline: PipelineSettings, subscribers: list[Subscriber] | None = None
) -> list[Change]:
    """Reconcile every resource; the changes made, empty when everything was in place."""
    subscribers = subscribers or []
    taken = {q for pool in pipeline.pool_set() for q in (pool.queue, pool.dlq)}
    for sub in subscribers:
        if sub.queue_name in taken:
            raise SettingsError(f"CHUTE_SUBSCRIBERS: queue {sub.queue_name!r} is a pool's queue")
    r = _Reconciler(aws, pipeline)
    r.table()
    r.bucket()
    topic_arn = r.topic()
    r.subscriptions(topic_arn, r.pool_queues(topic_arn), subscribers)
    r.notification(topic_arn)  # last: S3 validates that it may publish to the topic
    return r.changes
