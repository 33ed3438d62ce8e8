"""Measure how late the event loop runs a timer: the lag every heartbeat, receive and
health check of this worker suffers. CPU work on the loop shows up here first."""

from __future__ import annotations

import asyncio
import contextlib

from chute_worker import metrics

__all__ = ["watch_loop_lag"]


async def watch_loop_lag(stop: asyncio.Event, interval: float = 0.05) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        expected = loop.time() + interval
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        if stop.is_set():
            return
        metrics.LOOP_LAG.observe(max(0.0, loop.time() - expected))
