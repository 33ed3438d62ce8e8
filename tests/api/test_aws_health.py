"""The API's AWS check fails requests fast only after consecutive failed checks: one
slow or failed answer from a dependency busy for a moment must not turn every request
of the next interval into a 503 it did not need (real moto, through a TCP proxy)."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest

from chute_api.aws_health import AwsHealth
from chute_api.errors import DependencyUnavailable
from chute_core.aws import open_clients
from tests.support.processes import Server
from tests.support.proxy import tcp_proxy
from tests.support.stack import Stack


@pytest.mark.asyncio
async def test_requests_fail_fast_after_two_failed_checks_not_after_one(
    stack: Stack, moto_server: Server
) -> None:
    with tcp_proxy(int(moto_server.url.rsplit(":", 1)[1])) as proxy:
        aws = stack.aws.model_copy(update={"aws_endpoint_url": proxy.url, "aws_max_attempts": 1})
        async with AsyncExitStack() as opened:
            clients = await open_clients(opened, aws)
            health = AwsHealth(
                s3=clients.s3,
                dynamodb=clients.dynamodb,
                bucket=stack.pipeline.bucket,
                table=stack.pipeline.table,
                timeout=2,
            )
            assert set((await health.check()).values()) == {"ok"}
            proxy.set_mode("refuse")
            assert "ok" not in (await health.check()).values()
            health.require_available()  # one failed check: requests still try AWS
            assert health.failing_fast() == []
            await health.check()
            assert health.failing_fast() == ["dynamodb", "s3"]
            with pytest.raises(DependencyUnavailable):
                health.require_available()
            proxy.set_mode("pass")
            assert set((await health.check()).values()) == {"ok"}
            health.require_available()  # one good check closes it again
