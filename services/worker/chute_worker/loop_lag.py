"""Measure how late the event loop runs a timer: the lag every heartbeat, receive and
health check of this worker suffers. CPU work on the loop shows up here first."""

from __future__ import annotations

import asyncio

from chute_worker import metrics

__all__ = ["watch_loop_lag"]


async def watch_loop_lag(stop: asyncio.Event, interval: float = 0.1) -> None:
    """Observe each timer's lateness until `stop` is set (noticed within `interval`).
    A plain sleep per tick: no task or future beyond the timer itself."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        expected = loop.time() + interval
        await asyncio.sleep(interval)
        metrics.LOOP_LAG.observe(max(0.0, loop.time() - expected))
