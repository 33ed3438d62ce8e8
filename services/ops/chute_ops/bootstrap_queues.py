"""The queues' part of `chute bootstrap`: each pool's queue and DLQ (chute_core.pools),
each queue's policy letting only the pipeline's topic send to it, and the helpers the
steps share for comparing what AWS holds with what is wanted."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from chute_core.aws import MISSING_QUEUE_CODES, error_code
from chute_core.pools import Pool
from chute_core.settings import PipelineSettings

__all__ = ["DLQ_RETENTION_SECONDS", "QueueSteps", "same_attribute", "service_may"]

DLQ_RETENTION_SECONDS = 14 * 24 * 3600


class QueueSteps:
    """Reconciles queues and records what it changed (the bootstrap's reconciler, a
    subclass, sets the settings and the clients)."""

    p: PipelineSettings
    sqs: Any

    def note(self, resource: str, action: str) -> None:
        raise NotImplementedError

    def queue(self, name: str, desired: dict[str, str]) -> tuple[str, str]:
        """(URL, ARN) of the queue, created or brought to `desired`."""
        try:
            url = str(self.sqs.get_queue_url(QueueName=name)["QueueUrl"])
        except ClientError as exc:
            if error_code(exc) not in MISSING_QUEUE_CODES:
                raise
            url = str(self.sqs.create_queue(QueueName=name, Attributes=desired)["QueueUrl"])
            self.note(f"queue {name}", "created")
        current = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        differing = {k: v for k, v in desired.items() if not same_attribute(current.get(k), v)}
        if differing:
            self.sqs.set_queue_attributes(QueueUrl=url, Attributes=differing)
            self.note(f"queue {name} attributes {', '.join(sorted(differing))}", "updated")
        return url, str(current["QueueArn"])

    def topic_queue(self, name: str, topic_arn: str, desired: dict[str, str]) -> str:
        """A queue only the topic may send to; its ARN."""
        account_arn = topic_arn.replace(":sns:", ":sqs:").rsplit(":", 1)[0]
        policy = service_may(
            "AllowTopicToSend",
            "sns",
            "sqs:SendMessage",
            f"{account_arn}:{name}",
            ("ArnEquals", topic_arn),
        )
        return self.queue(name, {**desired, "Policy": json.dumps(policy)})[1]

    def pool_queues(self, topic_arn: str) -> dict[str, str]:
        """pool name -> the ARN of its queue, each with its DLQ and limits."""
        return {pool.name: self._pool_queue(pool, topic_arn) for pool in self.p.pool_set()}

    def _pool_queue(self, pool: Pool, topic_arn: str) -> str:
        _, dlq_arn = self.queue(pool.dlq, {"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)})
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": pool.max_receive_count}
        return self.topic_queue(
            pool.queue,
            topic_arn,
            {
                "VisibilityTimeout": str(pool.visibility_timeout_seconds),
                "ReceiveMessageWaitTimeSeconds": "20",
                "RedrivePolicy": json.dumps(redrive),
            },
        )


def service_may(
    sid: str, service: str, action: str, resource: str, source: tuple[str, str]
) -> dict[str, Any]:
    """A resource policy letting one AWS service act on `resource`, only on behalf of
    the source ARN (`source` = (condition operator, ARN))."""
    operator, source_arn = source
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Service": f"{service}.amazonaws.com"},
                "Action": action,
                "Resource": resource,
                "Condition": {operator: {"aws:SourceArn": source_arn}},
            }
        ],
    }


def same_attribute(current: str | None, desired: str) -> bool:
    if current == desired:
        return True
    if current is None:
        return False
    try:  # policies come back re-serialised; numbers inside JSON may come back as strings
        return bool(_normal_json(json.loads(current)) == _normal_json(json.loads(desired)))
    except ValueError:
        return False


def _normal_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normal_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal_json(v) for v in value]
    return str(value)
