"""The upload memory budget on its own: reservations fit or wait a bounded time, then
are refused with a Retry-After; readiness follows how long the budget has been full."""

from __future__ import annotations

import asyncio

import pytest

from chute_api.errors import ServerBusy
from chute_api.upload_budget import CHUNK_SLACK, UploadBudget, upload_reservation

MiB = 1024 * 1024
PART = 8 * MiB
FULL = upload_reservation(PART, None)


def _budget(total: int, *, wait: float = 0.05, unready_after: float = 60) -> UploadBudget:
    return UploadBudget(
        total=total,
        full_reservation=FULL,
        wait_seconds=wait,
        retry_after_seconds=3,
        unready_after=unready_after,
    )


def test_a_large_upload_reserves_one_and_a_quarter_parts() -> None:
    assert FULL == PART + PART // 4 + CHUNK_SLACK


def test_a_small_declared_body_reserves_only_its_size() -> None:
    assert upload_reservation(PART, 64 * 1024) == 64 * 1024 + CHUNK_SLACK
    assert upload_reservation(PART, 3 * PART) == FULL


@pytest.mark.asyncio
async def test_reservations_that_fit_do_not_wait() -> None:
    budget = _budget(2 * FULL)
    async with budget.reserve(FULL), budget.reserve(FULL):
        assert budget.in_use == 2 * FULL
    assert budget.in_use == 0


@pytest.mark.asyncio
async def test_a_full_budget_refuses_after_the_wait_with_retry_after() -> None:
    budget = _budget(FULL, wait=0.05)
    async with budget.reserve(FULL):
        with pytest.raises(ServerBusy) as refused:
            async with budget.reserve(FULL):
                pass
    assert refused.value.status == 503
    assert refused.value.headers == {"Retry-After": "3"}
    assert budget.waiting == 0


@pytest.mark.asyncio
async def test_a_waiting_upload_gets_the_room_a_finished_one_leaves() -> None:
    budget = _budget(FULL, wait=5)
    first_done = asyncio.Event()

    async def first() -> None:
        async with budget.reserve(FULL):
            await first_done.wait()

    holder = asyncio.create_task(first())
    await asyncio.sleep(0)  # one loop turn: the first holds the whole budget
    second = asyncio.create_task(_enter(budget))
    await asyncio.sleep(0)  # one loop turn: the second finds no room and waits
    assert budget.waiting == 1
    first_done.set()
    await asyncio.wait_for(second, 1)
    await holder


async def _enter(budget: UploadBudget) -> None:
    async with budget.reserve(FULL):
        pass


@pytest.mark.asyncio
async def test_readiness_fails_while_the_budget_stays_full_and_returns_with_room() -> None:
    budget = _budget(FULL + FULL // 2, unready_after=0.05)
    assert budget.ready
    async with budget.reserve(FULL):
        assert budget.ready  # full, but not for long yet
        await asyncio.sleep(0.06)  # the rule is about time: let 60 ms pass
        assert not budget.ready
    assert budget.ready
    assert budget.exhausted_for() == 0
