"""The topic's subscriptions in `chute bootstrap`: each pool's queue (raw delivery, and
with pools configured a filter policy that admits only that pool's keys) and every
extra subscriber of CHUTE_SUBSCRIBERS.

A subscription is found by its protocol and endpoint. One that differs from the
configuration is brought back and reported (drift); one the configuration does not
name, such as a subscription added by hand, is never touched."""

from __future__ import annotations

import json
from typing import Any

from chute_core.settings import PipelineSettings
from chute_ops.bootstrap_queues import same_attribute
from chute_ops.subscribers import Subscriber

__all__ = ["SubscriptionSteps"]

PENDING = "PendingConfirmation"  # an https subscription its endpoint has not confirmed
# SNS's way to remove a subscription's filter policy is to set it to an empty one.
NO_FILTER = "{}"


def _desired(
    *, raw: bool, filter_policy: dict[str, Any] | None, scope: str = "MessageBody"
) -> dict[str, str]:
    wanted = {"RawMessageDelivery": "true" if raw else "false"}
    if filter_policy is not None:
        wanted["FilterPolicyScope"] = scope  # first: SNS reads the policy in its scope
        wanted["FilterPolicy"] = json.dumps(filter_policy, sort_keys=True)
    return wanted


def _drifted(current: dict[str, str], wanted: dict[str, str]) -> dict[str, str]:
    differing = {k: v for k, v in wanted.items() if not same_attribute(current.get(k), v)}
    if "FilterPolicy" not in wanted and current.get("FilterPolicy") not in (None, "", NO_FILTER):
        differing["FilterPolicy"] = NO_FILTER  # filtered by hand, or from pools since removed
    return differing


class SubscriptionSteps:
    p: PipelineSettings
    sns: Any

    def note(self, resource: str, action: str) -> None:
        raise NotImplementedError

    def topic_queue(self, name: str, topic_arn: str, desired: dict[str, str]) -> str:
        raise NotImplementedError

    def subscriptions(
        self, topic_arn: str, pool_queues: dict[str, str], subscribers: list[Subscriber]
    ) -> None:
        existing = {
            (s.get("Protocol"), s.get("Endpoint")): str(s["SubscriptionArn"])
            for page in self.sns.get_paginator("list_subscriptions_by_topic").paginate(
                TopicArn=topic_arn
            )
            for s in page.get("Subscriptions", [])
        }
        pools = self.p.pool_set()
        for pool in pools:
            policy = pools.filter_policy(pool, self.p.incoming_prefix)
            self._subscription(
                topic_arn,
                existing,
                ("sqs", pool_queues[pool.name]),
                f"subscription {self.p.topic} -> {pool.queue}",
                _desired(raw=True, filter_policy=policy),
            )
        for sub in subscribers:
            endpoint = sub.endpoint
            if sub.queue_name is not None:
                endpoint = self.topic_queue(sub.queue_name, topic_arn, {})
            self._subscription(
                topic_arn,
                existing,
                (sub.protocol, endpoint),
                f"subscription {self.p.topic} -> {sub.endpoint}",
                _desired(
                    raw=sub.raw_message_delivery,
                    filter_policy=sub.filter_policy,
                    scope=sub.filter_policy_scope,
                ),
            )

    def _subscription(
        self,
        topic_arn: str,
        existing: dict[tuple[Any, Any], str],
        target: tuple[str, str],
        name: str,
        wanted: dict[str, str],
    ) -> None:
        arn = existing.get(target)
        if arn is None:
            self.sns.subscribe(
                TopicArn=topic_arn,
                Protocol=target[0],
                Endpoint=target[1],
                Attributes=wanted,
                ReturnSubscriptionArn=True,
            )
            self.note(name, "created")
            return
        if arn == PENDING:  # nothing to read or set until the endpoint confirms
            return
        current = self.sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        differing = _drifted(current, wanted)
        for attribute, value in differing.items():  # dict order: the scope first
            self.sns.set_subscription_attributes(
                SubscriptionArn=arn, AttributeName=attribute, AttributeValue=value
            )
        if differing:
            self.note(f"{name} {', '.join(differing)} (drifted)", "updated")
