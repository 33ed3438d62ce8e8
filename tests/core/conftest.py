"""Fixtures of the core's tests: a job store on the test's own table (moto)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest_asyncio

from chute_core.aws import open_clients
from chute_core.job_store import JobStore
from tests.support.stack import Stack


@pytest_asyncio.fixture
async def store(stack: Stack) -> AsyncIterator[JobStore]:
    """The test's table, with the default deadlines."""
    async with AsyncExitStack() as exit_stack:
        clients = await open_clients(exit_stack, stack.aws)
        yield JobStore(clients.dynamodb, stack.pipeline.table)
