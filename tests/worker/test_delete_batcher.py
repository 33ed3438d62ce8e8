"""Deletes issued together share DeleteMessageBatch requests of up to ten."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest

from chute_core.aws import open_clients
from chute_worker.deletes import DeleteBatcher
from tests.support.stack import Stack

TEST_EVENT = 1  # the s3:TestEvent that configuring the notification put on the queue


@asynccontextmanager
async def received(stack: Stack, count: int) -> AsyncIterator[tuple[Any, list[str]]]:
    """An async SQS client and the receipts of `count` sent messages plus the test
    event, all received (in flight) for 60 s."""
    url = stack.queue_url()
    for i in range(count):
        stack.client("sqs").send_message(QueueUrl=url, MessageBody=f"m{i}")
    async with AsyncExitStack() as exit_stack:
        sqs = (await open_clients(exit_stack, stack.aws)).sqs
        receipts: list[str] = []
        while len(receipts) < count + TEST_EVENT:
            response = await sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60
            )
            receipts += [m["ReceiptHandle"] for m in response.get("Messages", [])]
        yield sqs, receipts


def queue_attributes(stack: Stack) -> dict[str, str]:
    sqs = stack.client("sqs")
    attrs: dict[str, str] = sqs.get_queue_attributes(
        QueueUrl=stack.queue_url(), AttributeNames=["All"]
    )["Attributes"]
    return attrs


@pytest.mark.asyncio
async def test_concurrent_deletes_share_batch_requests_of_ten(stack: Stack) -> None:
    calls: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        calls.append(len(params["Entries"]))

    async with received(stack, 25) as (sqs, receipts):
        sqs.meta.events.register("provide-client-params.sqs.DeleteMessageBatch", count)
        batcher = DeleteBatcher(sqs, stack.queue_url(), wait=0.05)
        await asyncio.gather(*(batcher.delete(r) for r in receipts))
        await batcher.close()
    assert len(receipts) == 25 + TEST_EVENT
    assert sorted(calls, reverse=True) == [10, 10, 6]
    attrs = queue_attributes(stack)
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


@pytest.mark.asyncio
async def test_close_sends_pending_deletes_without_waiting_for_a_fuller_batch(
    stack: Stack,
) -> None:
    async with received(stack, 3) as (sqs, receipts):
        batcher = DeleteBatcher(sqs, stack.queue_url(), wait=30)  # would hold 30 s
        pending = [asyncio.create_task(batcher.delete(r)) for r in receipts]
        await asyncio.sleep(0)  # let each delete join the pending batch
        await asyncio.wait_for(batcher.close(), timeout=10)
        assert all(t.done() and t.exception() is None for t in pending)
        with pytest.raises(RuntimeError, match="closed"):
            await batcher.delete(receipts[0])
    assert queue_attributes(stack)["ApproximateNumberOfMessagesNotVisible"] == "0"


@pytest.mark.asyncio
async def test_batch_goes_at_once_when_every_message_in_flight_waits_for_its_delete(
    stack: Stack,
) -> None:
    async with received(stack, 2) as (sqs, receipts):
        # Three messages in flight, all three deleted: no fourth could join the batch,
        # so it must not sit out the 30 s wait.
        batcher = DeleteBatcher(sqs, stack.queue_url(), wait=30, in_flight=lambda: 3)
        await asyncio.wait_for(asyncio.gather(*(batcher.delete(r) for r in receipts)), 10)
        await batcher.close()
    assert queue_attributes(stack)["ApproximateNumberOfMessagesNotVisible"] == "0"
