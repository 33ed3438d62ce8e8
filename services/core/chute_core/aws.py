"""AWS client factory: every client is pointed by settings, never by code.

Async clients (aioboto3) serve the API and the worker; sync clients (boto3) serve
the CLI's one-shot commands. Credentials always come from the standard AWS chain.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aioboto3
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from chute_core.metrics import instrument_client
from chute_core.settings import AwsSettings

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_sqs import SQSClient

__all__ = [
    "MISSING_QUEUE_CODES",
    "AsyncClients",
    "QueueUrls",
    "botocore_config",
    "error_code",
    "open_clients",
    "sync_client",
]

# What SQS answers, depending on the protocol, for a queue that does not exist.
MISSING_QUEUE_CODES = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


def error_code(exc: ClientError) -> str:
    """The AWS error code of a failed call ("" if the response carries none)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def botocore_config(aws: AwsSettings) -> Config:
    # "standard" retry mode retries throttling, timeouts and 5xx with jittered backoff.
    return Config(
        region_name=aws.region,
        retries={"mode": "standard", "max_attempts": aws.aws_max_attempts},
        max_pool_connections=aws.aws_max_pool_connections,
        connect_timeout=5,
        read_timeout=30,
        parameter_validation=False,
    )


def _s3_config() -> Config:
    """SigV4 for S3 too: presigned URLs are then accepted in every region (SigV2 is not).
    The payload is not hashed into the signature: every body chute sends carries a
    flexible checksum S3 verifies (parts and small uploads their SHA-256, other puts
    botocore's default CRC32), which is what botocore already does over HTTPS; over
    plain HTTP (a local AWS) it would hash every byte once more on the event loop."""
    return Config(signature_version="s3v4", s3={"payload_signing_enabled": False})


def _endpoint(aws: AwsSettings, service: str = "") -> dict[str, Any]:
    url = (service == "dynamodb" and aws.dynamodb_endpoint_url) or aws.aws_endpoint_url
    return {"endpoint_url": url} if url else {}


@dataclass(frozen=True)
class AsyncClients:
    s3: S3Client
    sqs: SQSClient
    dynamodb: DynamoDBClient


async def open_clients(stack: AsyncExitStack, aws: AwsSettings) -> AsyncClients:
    """Enter one client per service into `stack`; closing the stack closes them."""
    session = aioboto3.Session()
    config = botocore_config(aws)
    kwargs = {"region_name": aws.region, "config": config, **_endpoint(aws)}
    s3_kwargs = {**kwargs, "config": config.merge(_s3_config())}
    s3 = await stack.enter_async_context(session.client("s3", **s3_kwargs))
    sqs = await stack.enter_async_context(session.client("sqs", **kwargs))
    dynamodb = await stack.enter_async_context(
        session.client("dynamodb", **{**kwargs, **_endpoint(aws, "dynamodb")})
    )
    for client in (s3, sqs, dynamodb):
        instrument_client(client)
    return AsyncClients(s3=s3, sqs=sqs, dynamodb=dynamodb)


class QueueUrls:
    """The one place a queue's URL is looked up: once per name, then remembered. A
    failed lookup (the queue does not exist yet) raises and is tried again next time."""

    def __init__(self, sqs: SQSClient) -> None:
        self._sqs = sqs
        self._urls: dict[str, str] = {}

    async def url(self, name: str) -> str:
        if name not in self._urls:
            self._urls[name] = (await self._sqs.get_queue_url(QueueName=name))["QueueUrl"]
        return self._urls[name]


def sync_client(service: str, aws: AwsSettings) -> Any:
    """A boto3 client for one-shot CLI work (bootstrap, DLQ tooling)."""
    return boto3.client(  # type: ignore[call-overload]
        service, region_name=aws.region, config=botocore_config(aws), **_endpoint(aws, service)
    )
