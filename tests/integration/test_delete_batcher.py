"""Deletes issued together share DeleteMessageBatch requests of up to ten."""

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import pytest

from chute_core.aws import open_clients
from chute_worker.deletes import DeleteBatcher
from tests.support.stack import Stack


@pytest.mark.asyncio
async def test_concurrent_deletes_share_batch_requests_of_ten(stack: Stack) -> None:
    url = stack.queue_url()
    sqs_sync = stack.client("sqs")
    for i in range(25):
        sqs_sync.send_message(QueueUrl=url, MessageBody=f"m{i}")
    async with AsyncExitStack() as exit_stack:
        sqs = (await open_clients(exit_stack, stack.aws)).sqs
        calls: list[int] = []

        def count(params: dict[str, Any], **_: Any) -> None:
            calls.append(len(params["Entries"]))

        sqs.meta.events.register("provide-client-params.sqs.DeleteMessageBatch", count)
        receipts: list[str] = []
        while len(receipts) < 25:
            response = await sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60
            )
            receipts += [m["ReceiptHandle"] for m in response.get("Messages", [])]
        batcher = DeleteBatcher(sqs, url, wait=0.05)
        await asyncio.gather(*(batcher.delete(r) for r in receipts))
        await batcher.close()
    # 25 sent plus the s3:TestEvent that configuring the notification put there.
    assert len(receipts) == 26
    assert sorted(calls, reverse=True) == [10, 10, 6]
    attrs = sqs_sync.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


@pytest.mark.asyncio
async def test_close_sends_pending_deletes_without_waiting_for_a_fuller_batch(
    stack: Stack,
) -> None:
    url = stack.queue_url()
    sqs_sync = stack.client("sqs")
    for i in range(3):
        sqs_sync.send_message(QueueUrl=url, MessageBody=f"m{i}")
    async with AsyncExitStack() as exit_stack:
        sqs = (await open_clients(exit_stack, stack.aws)).sqs
        receipts: list[str] = []
        while len(receipts) < 4:  # 3 plus the s3:TestEvent
            response = await sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60
            )
            receipts += [m["ReceiptHandle"] for m in response.get("Messages", [])]
        batcher = DeleteBatcher(sqs, url, wait=30)  # would hold a partial batch for 30 s
        pending = [batcher.submit(r) for r in receipts]
        await asyncio.wait_for(batcher.close(), timeout=10)
        assert all(f.done() and f.exception() is None for f in pending)
        with pytest.raises(RuntimeError, match="closed"):
            batcher.submit(receipts[0])
    attrs = sqs_sync.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


@pytest.mark.asyncio
async def test_batch_goes_at_once_when_every_message_in_flight_waits_for_its_delete(
    stack: Stack,
) -> None:
    url = stack.queue_url()
    sqs_sync = stack.client("sqs")
    for i in range(2):
        sqs_sync.send_message(QueueUrl=url, MessageBody=f"m{i}")
    async with AsyncExitStack() as exit_stack:
        sqs = (await open_clients(exit_stack, stack.aws)).sqs
        receipts: list[str] = []
        while len(receipts) < 3:  # 2 plus the s3:TestEvent
            response = await sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60
            )
            receipts += [m["ReceiptHandle"] for m in response.get("Messages", [])]
        # Three messages in flight, all three deleted: no fourth could join the batch,
        # so it must not sit out the 30 s wait.
        batcher = DeleteBatcher(sqs, url, wait=30, in_flight=lambda: 3)
        await asyncio.wait_for(asyncio.gather(*(batcher.delete(r) for r in receipts)), 10)
        await batcher.close()
    attrs = sqs_sync.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
