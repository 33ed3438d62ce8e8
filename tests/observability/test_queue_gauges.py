"""The API exports the queues' depth, so queue and DLQ alerts have series while the
workers are scaled to zero (no worker runs in this test)."""

from __future__ import annotations

import re

import httpx

from tests.conftest import ServerFactory
from tests.support.polling import wait_until
from tests.support.stack import Stack

DLQ_VISIBLE = re.compile(
    r'^chute_queue_messages\{pool="default",queue="dlq",state="visible"\} (\S+)$', re.M
)


def test_the_api_alone_reports_a_dead_letter_in_its_queue_gauges(
    stack: Stack, servers: ServerFactory
) -> None:
    api = servers("api", stack, CHUTE_QUEUE_POLL_SECONDS="0.2")
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=stack.queue_url(stack.pipeline.dlq_name), MessageBody="dead")

    def dead_letters() -> float | None:
        found = DLQ_VISIBLE.search(httpx.get(f"{api.url}/metrics").text)
        return float(found.group(1)) if found and float(found.group(1)) >= 1 else None

    assert wait_until(dead_letters, timeout=10, what="the DLQ gauge on the API") == 1
    metrics = httpx.get(f"{api.url}/metrics").text
    assert "chute_queue_exporter_last_success_timestamp_seconds" in metrics
