"""Where the AWS clients point: one endpoint for every service, or DynamoDB at its own."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest

from chute_core.aws import open_clients, sync_client
from chute_core.settings import AwsSettings

MAIN = "http://127.0.0.1:5000"
TABLES = "http://127.0.0.1:5001"


@pytest.mark.parametrize("service", ["s3", "sqs", "dynamodb"])
def test_every_client_uses_the_one_endpoint_when_dynamodb_has_none(service: str) -> None:
    assert sync_client(service, AwsSettings(aws_endpoint_url=MAIN)).meta.endpoint_url == MAIN


def test_dynamodb_endpoint_moves_dynamodb_only() -> None:
    aws = AwsSettings(aws_endpoint_url=MAIN, dynamodb_endpoint_url=TABLES)
    assert sync_client("dynamodb", aws).meta.endpoint_url == TABLES
    assert sync_client("s3", aws).meta.endpoint_url == MAIN


@pytest.mark.asyncio
async def test_the_async_clients_follow_the_same_endpoints() -> None:
    aws = AwsSettings(aws_endpoint_url=MAIN, dynamodb_endpoint_url=TABLES)
    async with AsyncExitStack() as stack:
        clients = await open_clients(stack, aws)
        assert clients.dynamodb.meta.endpoint_url == TABLES
        assert clients.sqs.meta.endpoint_url == MAIN
        assert clients.s3.meta.endpoint_url == MAIN
