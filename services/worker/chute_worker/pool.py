"""The process pool that runs CPU-bound processors away from the event loop.

pebble gives each call a timeout after which the pool process is terminated and
replaced; a pool process that dies (segfault, OOM kill, os._exit) fails only the call
that ran in it. Each pool process is capped in address space, so a hostile input
ends in MemoryError inside the pool rather than swapping the node."""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

import pebble

from chute_core.errors import ProcessorError

__all__ = ["ProcessorPool"]

T = TypeVar("T")


def _limit_memory(max_bytes: int) -> None:
    if max_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))


class ProcessorPool:
    def __init__(self, *, size: int, memory_bytes: int) -> None:
        # spawn: a fork of the event-loop process would copy its sockets and threads.
        self._pool = pebble.ProcessPool(
            max_workers=size,
            initializer=_limit_memory,
            initargs=(memory_bytes,),
            context=multiprocessing.get_context("spawn"),
        )
        self.size = size

    async def run(
        self, function: Callable[..., T], *args: Any, limit_seconds: float, name: str
    ) -> T:
        future = self._pool.schedule(function, args=args, timeout=max(0.001, limit_seconds))
        try:
            return await asyncio.wrap_future(future)
        except FutureTimeout:
            raise ProcessorError(
                "processor_timeout",
                f"{name} ran longer than {limit_seconds:.1f} s; its pool process was replaced",
                retryable=True,
            ) from None
        except pebble.ProcessExpired as exc:
            raise ProcessorError(
                "processor_crashed",
                f"{name}'s pool process died (exit code {exc.exitcode})",
                retryable=True,
                max_attempts=2,
            ) from None
        except MemoryError:
            raise ProcessorError(
                "memory_limit",
                f"{name} exceeded the pool's memory limit on this input",
                retryable=False,
            ) from None
        finally:
            future.cancel()  # type: ignore[no-untyped-call]  # no-op when done; terminates the pool process if cancelled

    def close(self) -> None:
        self._pool.stop()  # type: ignore[no-untyped-call]
        self._pool.join(timeout=10)
