"""What the reconciler fault tests share: the local AWS's port (for proxies in front
of it), the queue's visible count, and the jobs a reconciler process repaired."""

from __future__ import annotations

from tests.support.accounting import log_events
from tests.support.processes import Server
from tests.support.stack import Stack

# Seconds before a standing job is overdue, for every process of a test: the bound the
# reconciler fault tests wait on.
FAST = {"CHUTE_STUCK_AFTER_SECONDS": "3"}


def moto_port(stack: Stack) -> int:
    return int(str(stack.aws.aws_endpoint_url).rsplit(":", 1)[1])


def visible(stack: Stack) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_url(), AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def repaired_jobs(reconciler: Server, action: str) -> list[str]:
    """The ids of the jobs the reconciler repaired with `action`, in log order."""
    return [job_id for job_id, _, _ in repaired(reconciler, action)]


def repaired(reconciler: Server, action: str | None = None) -> list[tuple[str, str, str]]:
    """(job id, state found, action) of every repair in the reconciler's log."""
    return [
        (e["job_id"], e["state"], e["action"])
        for e in log_events([reconciler.log_path])
        if e.get("event") == "reconciler_repair" and action in (None, e.get("action"))
    ]


def silence_the_bucket(stack: Stack) -> None:
    """Every S3 event from now on is lost (as if the notification were deleted)."""
    stack.client("s3").put_bucket_notification_configuration(
        Bucket=stack.pipeline.bucket, NotificationConfiguration={}
    )
